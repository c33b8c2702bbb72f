// Package clients builds a provider's client by name: the one place that
// knows every client package (provider/twilio, provider/telnyx,
// provider/vonage) and the SIP trunk, so provider/ itself imports none.
package clients

import (
	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/provider/telnyx"
	"github.com/sipbridge/sipbridge/provider/twilio"
	"github.com/sipbridge/sipbridge/provider/vonage"
)

// New builds the client for a provider name from the credentials chosen by
// the creds package's Resolver. NameSIP needs no credentials. Missing
// credentials for the named provider are an ErrInvalidCredentials; an unknown
// name is an ErrNotSupported.
func New(name string, creds provider.Credentials, cfg provider.Config) (provider.Provider, error) {
	missing := func() error {
		return &provider.Error{Provider: name, Kind: provider.ErrInvalidCredentials, Message: "no credentials for " + name}
	}
	switch name {
	case provider.NameTwilio:
		if creds.Twilio == nil {
			return nil, missing()
		}
		p, err := twilio.New(*creds.Twilio, cfg)
		if err != nil {
			return nil, err
		}
		return p, nil
	case provider.NameTelnyx:
		if creds.Telnyx == nil {
			return nil, missing()
		}
		p, err := telnyx.New(*creds.Telnyx, cfg)
		if err != nil {
			return nil, err
		}
		return p, nil
	case provider.NameVonage:
		if creds.Vonage == nil {
			return nil, missing()
		}
		p, err := vonage.New(*creds.Vonage, cfg)
		if err != nil {
			return nil, err
		}
		return p, nil
	case provider.NameSIP:
		return provider.NewBYOSIPTrunk(""), nil
	default:
		return nil, provider.NotSupported(name, "unknown provider "+name)
	}
}
