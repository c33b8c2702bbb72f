package httpapi

import (
	"io"
	"mime"
	"net/http"

	"github.com/labstack/echo/v4"
)

// maxWebhookBody bounds a provider webhook body.
const maxWebhookBody = 256 << 10

// ReadWebhookBody reads a provider webhook's body (413 past maxWebhookBody).
func ReadWebhookBody(c echo.Context) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, maxWebhookBody+1))
	if err != nil {
		return nil, Invalid("", "cannot read request body")
	}
	if len(body) > maxWebhookBody {
		return nil, &APIError{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large", Message: "webhook body too large"}
	}
	return body, nil
}

// MediaType is the request's media type, parameters left out.
func MediaType(c echo.Context) string {
	mt, _, _ := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	return mt
}
