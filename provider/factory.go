package provider

// New builds the client for a provider name from the credentials chosen by
// the creds package's Resolver. NameSIP needs no credentials. Missing
// credentials for the named provider are an ErrInvalidCredentials; an unknown
// name is an ErrNotSupported.
func New(name string, creds Credentials, cfg Config) (Provider, error) {
	missing := func() error {
		return &Error{Provider: name, Kind: ErrInvalidCredentials, Message: "no credentials for " + name}
	}
	switch name {
	case NameTwilio:
		if creds.Twilio == nil {
			return nil, missing()
		}
		p, err := NewTwilio(*creds.Twilio, cfg)
		if err != nil {
			return nil, err
		}
		return p, nil
	case NameTelnyx:
		if creds.Telnyx == nil {
			return nil, missing()
		}
		p, err := NewTelnyx(*creds.Telnyx, cfg)
		if err != nil {
			return nil, err
		}
		return p, nil
	case NameVonage:
		if creds.Vonage == nil {
			return nil, missing()
		}
		p, err := NewVonage(*creds.Vonage, cfg)
		if err != nil {
			return nil, err
		}
		return p, nil
	case NameSIP:
		return NewBYOSIPTrunk(""), nil
	default:
		return nil, notSupported(name, "unknown provider "+name)
	}
}
