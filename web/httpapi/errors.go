package httpapi

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/sipbridge/sipbridge/db"
)

// APIError is the one error shape of the API:
//
//	{"error":{"code":"validation_failed","message":"…","field":"gateway"}}
type APIError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
	// Cause is the internal reason behind a fixed message (a webhook's parse
	// error, say): logged, never answered.
	Cause error `json:"-"`
}

func (e *APIError) Error() string { return e.Message }

type errorBody struct {
	Error *APIError `json:"error"`
}

// Invalid is 400 validation_failed naming field.
func Invalid(field, format string, args ...any) *APIError {
	return &APIError{Status: http.StatusBadRequest, Code: "validation_failed", Field: field, Message: fmt.Sprintf(format, args...)}
}

// NotFound is 404 for what, naming no field (a path parameter).
func NotFound(what string) *APIError {
	return &APIError{Status: http.StatusNotFound, Code: "not_found", Message: what + " not found"}
}

// NotFoundField is 404 for what, named in the body by field.
func NotFoundField(field, what string) *APIError {
	return &APIError{Status: http.StatusNotFound, Code: "not_found", Field: field, Message: what + " not found"}
}

// Conflict is 409 conflict naming field.
func Conflict(field, format string, args ...any) *APIError {
	return &APIError{Status: http.StatusConflict, Code: "conflict", Field: field, Message: fmt.Sprintf(format, args...)}
}

// ToAPIError is the answer to any error a handler returns: the error
// table's (errorTable, with the route's wording when the handler gave it),
// echo's own, else 500.
func ToAPIError(err error) *APIError {
	var ae *APIError
	var he *echo.HTTPError
	err = ErrorIn(err, Wording{})
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &he):
		code := map[int]string{
			http.StatusNotFound: "not_found", http.StatusMethodNotAllowed: "method_not_allowed",
			http.StatusUnauthorized: "unauthorized", http.StatusRequestEntityTooLarge: "body_too_large",
			http.StatusUnsupportedMediaType: "unsupported_media_type", http.StatusTooManyRequests: "rate_limited",
		}[he.Code]
		if code == "" {
			code = "error"
		}
		msg := http.StatusText(he.Code)
		if s, ok := he.Message.(string); ok && s != "" {
			msg = s
		}
		return &APIError{Status: he.Code, Code: code, Message: msg}
	}
	return &APIError{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error"}
}

func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	ae := ToAPIError(err)
	if ae.Status >= 500 {
		Logger(c, s.log).Error("request failed", "err", err)
	} else if ae.Cause != nil {
		Logger(c, s.log).Warn("request refused", "code", ae.Code, "reason", ae.Cause.Error())
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(ae.Status)
		return
	}
	_ = c.JSON(ae.Status, errorBody{Error: ae})
}

// IsConflict tells a write refused by a unique constraint (db.ErrConflict).
func IsConflict(err error) bool { return errors.Is(err, db.ErrConflict) }
