package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sipbridge/sipbridge/app"
	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/call/sip"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/netpolicy"
	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/secret"
	"github.com/sipbridge/sipbridge/trunk"
	"github.com/sipbridge/sipbridge/web/trunkapi"
)

// Config is everything sipbridge reads from its environment. Secrets come only
// from the environment (or, in development, the generated ./var/secret.key).
type Config struct {
	// Addr is where the HTTP API listens (SIPBRIDGE_ADDR, default ":8080").
	Addr string
	// PprofAddr, when set, serves Go's runtime profiles (net/http/pprof)
	// on this loopback host:port (PPROF_ADDR, default empty: off).
	PprofAddr string
	// DatabaseURL is postgres://… ; empty means the embedded SQLite at ./var/sipbridge.db (DATABASE_URL).
	DatabaseURL string
	// SecretKey is the key ring sealing secrets at rest: base64 32-byte keys,
	// comma-separated, first is current (SECRET_KEY). Empty with SQLite: a dev key
	// is generated once under ./var/secret.key. Empty with PostgreSQL: an error.
	SecretKey string
	// PublicBaseURL is how providers reach us, e.g. https://bridge.example.com (PUBLIC_BASE_URL).
	PublicBaseURL string
	// FSESLAddr is FreeSWITCH's Event Socket address (FS_ESL_ADDR, default 127.0.0.1:8021).
	FSESLAddr string
	// FSESLPassword is the Event Socket password (FS_ESL_PASSWORD, default ClueCon).
	FSESLPassword string
	// FSGenDir is where generated gateway/ACL files are written (FS_GEN_DIR, default ./var/freeswitch).
	FSGenDir string
	// FSProfile is the sofia profile carrying the gateways (FS_PROFILE, default external).
	FSProfile string
	// XMLCurl serves FreeSWITCH's sofia.conf and acl.conf over HTTP
	// (FS_XML_CURL_*; off by default).
	XMLCurl xmlCurlConfig
	// SIPFront is SIP_PROXIES, SIP_PROXY_SOURCE_HEADER and FS_NODES.
	SIPFront frontConfig
	// FSCallConnections is how many Event Socket connections carry call
	// control's commands (FS_CALL_CONNECTIONS, default 4, 1–32).
	FSCallConnections int
	// SyncInterval is the trunk reconcile tick (SYNC_INTERVAL, default 60s).
	SyncInterval time.Duration
	// DrainTimeout is how long SIGTERM waits for live calls to end
	// (DRAIN_TIMEOUT, default 5m).
	DrainTimeout time.Duration
	// ShutdownCalls is what stopping does to the live SIP calls
	// (SHUTDOWN_CALLS): hangup (default) drains then hangs up; handoff
	// leaves the answered ones up for the next sipbridge to adopt.
	ShutdownCalls string
	// LegTimeout is how long each trunk of an outbound call or a bridged
	// transfer rings before the next one is tried (LEG_TIMEOUT, default 30s).
	LegTimeout time.Duration
	// LogLevel is debug|info|warn|error (LOG_LEVEL, default info).
	LogLevel slog.Level
	// VarDir is the local state directory (SIPBRIDGE_VAR_DIR, default ./var).
	VarDir string
	// StreamWSBase is how FreeSWITCH's mod_audio_stream reaches our websocket
	// (STREAM_WS_BASE, default ws://127.0.0.1:8080): ws:// or wss://, a host of
	// letters, digits, '-' and '.' (mod_audio_stream refuses others), no path.
	StreamWSBase string
	// RecordingsDir is where FreeSWITCH writes call recordings and sipbridge
	// reads them (RECORDINGS_DIR, default <SIPBRIDGE_VAR_DIR>/recordings; the
	// same path on both when they share a host or a volume).
	RecordingsDir string
	// PlaybackMode is how the assistant's audio reaches the caller
	// (PLAYBACK_MODE): "pipe" (default) plays it gaplessly through one named
	// pipe per call in PlaybackDir, which FreeSWITCH must read at the same
	// path (same host or pod); "files" has mod_audio_stream write each chunk
	// as a file on FreeSWITCH's host (any layout, with gaps between files).
	PlaybackMode string
	// PlaybackDir holds the playback pipes (PLAYBACK_DIR, default
	// <SIPBRIDGE_VAR_DIR>/playback, made absolute).
	PlaybackDir string
	// WelcomeAudioDir holds the WAV files assistants name in welcome_audio
	// (WELCOME_AUDIO_DIR, default <SIPBRIDGE_VAR_DIR>/welcome, made
	// absolute); FreeSWITCH plays them from the same path.
	WelcomeAudioDir string
	// TransferHoldAudio is what a caller on hold hears during a warm
	// transfer (TRANSFER_HOLD_AUDIO): an absolute path FreeSWITCH plays (a
	// WAV file) or a tone_stream:// path; default a ringback tone.
	TransferHoldAudio string
	// AllowPrivateAddresses lets tenants' URLs and trunks reach private
	// networks: RFC 1918, fc00::/7, 100.64.0.0/10 (ALLOW_PRIVATE_ADDRESSES,
	// default true: assistants often run on one).
	AllowPrivateAddresses bool
	// AllowLoopbackAddresses lets them reach loopback, link-local and cloud
	// metadata addresses (ALLOW_LOOPBACK_ADDRESSES, default false; true for
	// development with an assistant on 127.0.0.1: `make run` sets it).
	AllowLoopbackAddresses bool

	// Environment-level provider credentials, the last level of resolution.
	TwilioAccountSID   string // TWILIO_ACCOUNT_SID
	TwilioAuthToken    string // TWILIO_AUTH_TOKEN
	TelnyxAPIKey       string // TELNYX_API_KEY
	TelnyxConnectionID string // TELNYX_CONNECTION_ID
	VonageAPIKey       string // VONAGE_API_KEY
	VonageAPISecret    string // VONAGE_API_SECRET
	// SIPGateway, SIPUsername and SIPPassword are the environment-level SIP
	// trunk: an organization with no trunk at all gets a copy of it (its
	// own gateway) when it first registers a byo-sip-trunk number.
	SIPGateway  string // SIP_GATEWAY, host[:port]
	SIPUsername string // SIP_USERNAME (registration when set)
	SIPPassword string // SIP_PASSWORD

	// TelnyxPublicKey verifies the Telnyx webhooks of organizations without their own (TELNYX_PUBLIC_KEY).
	TelnyxPublicKey string
	// VonageSignatureSecret verifies the Vonage webhooks of organizations without their own (VONAGE_SIGNATURE_SECRET).
	VonageSignatureSecret string
	// SMSRates is the send rate per provider in messages/second
	// (SMS_RATE_LIMITS, e.g. "twilio=10,telnyx=5,vonage=2"; default 10 each).
	SMSRates map[string]float64

	// Provider holds the provider API base URLs (TWILIO_API_BASE_URL,
	// TELNYX_API_BASE_URL, VONAGE_API_BASE_URL, VONAGE_REST_BASE_URL) and the
	// per-request timeout (PROVIDER_HTTP_TIMEOUT, default 15s).
	Provider provider.Config

	// ACL bounds trunks' allowed_addresses: the broadest prefix accepted
	// (MAX_ACL_PREFIX, "N" or "v4=N,v6=M", default v4=16,v6=32) and the
	// shared carrier space several organizations may allow
	// (SHARED_CARRIER_CIDRS, comma-separated CIDRs, default none).
	ACL trunkapi.ACLPolicy
	// CallDefaults are the call limits of organizations that set 0
	// (DEFAULT_MAX_CONCURRENT_CALLS, default 10, and DEFAULT_CALLS_PER_SECOND,
	// default 5; 0 = no platform cap).
	CallDefaults call.PlatformLimits

	// Keys is SecretKey parsed.
	Keys *secret.Keyring
}

// EnvCredentials is the environment level of provider credential resolution.
func (c *Config) EnvCredentials() provider.Credentials {
	var out provider.Credentials
	if c.TwilioAccountSID != "" || c.TwilioAuthToken != "" {
		out.Twilio = &provider.TwilioCreds{AccountSID: c.TwilioAccountSID, AuthToken: c.TwilioAuthToken}
	}
	if c.TelnyxAPIKey != "" || c.TelnyxConnectionID != "" {
		out.Telnyx = &provider.TelnyxCreds{APIKey: c.TelnyxAPIKey, ConnectionID: c.TelnyxConnectionID}
	}
	if c.TelnyxPublicKey != "" {
		if out.Telnyx == nil {
			out.Telnyx = &provider.TelnyxCreds{}
		}
		out.Telnyx.PublicKey = c.TelnyxPublicKey
	}
	if c.VonageAPIKey != "" || c.VonageAPISecret != "" || c.VonageSignatureSecret != "" {
		out.Vonage = &provider.VonageCreds{APIKey: c.VonageAPIKey, APISecret: c.VonageAPISecret, SignatureSecret: c.VonageSignatureSecret}
	}
	return out
}

// LoadConfig reads the environment through getenv and validates the result.
func LoadConfig(getenv func(string) string) (*Config, error) {
	get := func(k, def string) string {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			return v
		}
		return def
	}
	c := &Config{
		Addr:               get("SIPBRIDGE_ADDR", ":8080"),
		PprofAddr:          get("PPROF_ADDR", ""),
		DatabaseURL:        get("DATABASE_URL", ""),
		SecretKey:          get("SECRET_KEY", ""),
		PublicBaseURL:      strings.TrimRight(get("PUBLIC_BASE_URL", ""), "/"),
		FSESLAddr:          get("FS_ESL_ADDR", "127.0.0.1:8021"),
		FSESLPassword:      get("FS_ESL_PASSWORD", "ClueCon"),
		FSGenDir:           get("FS_GEN_DIR", "./var/freeswitch"),
		FSProfile:          get("FS_PROFILE", "external"),
		VarDir:             get("SIPBRIDGE_VAR_DIR", "./var"),
		StreamWSBase:       strings.TrimRight(get("STREAM_WS_BASE", "ws://127.0.0.1:8080"), "/"),
		TwilioAccountSID:   get("TWILIO_ACCOUNT_SID", ""),
		TwilioAuthToken:    get("TWILIO_AUTH_TOKEN", ""),
		TelnyxAPIKey:       get("TELNYX_API_KEY", ""),
		TelnyxConnectionID: get("TELNYX_CONNECTION_ID", ""),
		VonageAPIKey:       get("VONAGE_API_KEY", ""),
		VonageAPISecret:    get("VONAGE_API_SECRET", ""),
		SIPGateway:         get("SIP_GATEWAY", ""),
		SIPUsername:        get("SIP_USERNAME", ""),
		SIPPassword:        get("SIP_PASSWORD", ""),
	}
	c.TelnyxPublicKey = get("TELNYX_PUBLIC_KEY", "")
	c.VonageSignatureSecret = get("VONAGE_SIGNATURE_SECRET", "")
	errs := c.loadCarrier(get, getenv)
	errs = append(errs, c.loadTimings(get)...)
	errs = append(errs, c.loadPaths(get)...)
	errs = append(errs, c.loadXMLCurl(get)...)
	errs = append(errs, c.loadFront(get)...)
	if err := c.xmlCurlNodes(); err != nil {
		errs = append(errs, err)
	}
	return c, errors.Join(errs...)
}

// envGetter returns the trimmed value of an environment variable, or def.
type envGetter func(k, def string) string

// loadCarrier reads the carrier, provider, ACL and call-limit settings.
func (c *Config) loadCarrier(get envGetter, getenv func(string) string) []error {
	var errs []error
	var err error
	if _, _, err := trunk.ParseTerminationURI(c.SIPGateway); c.SIPGateway != "" && (err != nil || strings.ContainsAny(c.SIPGateway, ";@")) {
		errs = append(errs, errors.New("SIP_GATEWAY must be host[:port] of the carrier, e.g. sip.zadarma.com"))
	}
	if strings.ContainsAny(c.SIPUsername+c.SIPPassword, "\r\n") {
		errs = append(errs, errors.New("SIP_USERNAME and SIP_PASSWORD must be one line each"))
	}
	if c.SMSRates, err = parseRates(get("SMS_RATE_LIMITS", "")); err != nil {
		errs = append(errs, err)
	}
	if c.Provider, err = provider.ConfigFromEnv(getenv); err != nil {
		errs = append(errs, err)
	}
	if c.ACL, err = trunkapi.ParseACLPolicy(get("MAX_ACL_PREFIX", ""), get("SHARED_CARRIER_CIDRS", "")); err != nil {
		errs = append(errs, err)
	}
	if c.CallDefaults.MaxConcurrentCalls, err = strconv.Atoi(get("DEFAULT_MAX_CONCURRENT_CALLS", "10")); err != nil || c.CallDefaults.MaxConcurrentCalls < 0 || c.CallDefaults.MaxConcurrentCalls > 100000 {
		errs = append(errs, errors.New("DEFAULT_MAX_CONCURRENT_CALLS must be a whole number from 0 (no platform cap) to 100000"))
	}
	if c.CallDefaults.CallsPerSecond, err = strconv.ParseFloat(get("DEFAULT_CALLS_PER_SECOND", "5"), 64); err != nil || !(c.CallDefaults.CallsPerSecond >= 0 && c.CallDefaults.CallsPerSecond <= 1000) {
		errs = append(errs, errors.New("DEFAULT_CALLS_PER_SECOND must be a number from 0 (no platform cap) to 1000"))
	}
	return errs
}

// loadTimings reads the sync, FreeSWITCH connection, leg and drain timings,
// the log level and the database and public URLs.
func (c *Config) loadTimings(get envGetter) []error {
	var errs []error
	var err error
	if c.SyncInterval, err = time.ParseDuration(get("SYNC_INTERVAL", "60s")); err != nil || c.SyncInterval < time.Second {
		errs = append(errs, errors.New("SYNC_INTERVAL must be a duration of at least 1s, e.g. 60s"))
	}
	if c.FSCallConnections, err = strconv.Atoi(get("FS_CALL_CONNECTIONS", "4")); err != nil || c.FSCallConnections < 1 || c.FSCallConnections > 32 {
		errs = append(errs, errors.New("FS_CALL_CONNECTIONS must be a whole number from 1 to 32"))
	}
	if c.LegTimeout, err = time.ParseDuration(get("LEG_TIMEOUT", "30s")); err != nil || c.LegTimeout < time.Second || c.LegTimeout > 10*time.Minute {
		errs = append(errs, errors.New("LEG_TIMEOUT must be a duration from 1s to 10m, e.g. 30s"))
	}
	if c.DrainTimeout, err = time.ParseDuration(get("DRAIN_TIMEOUT", "5m")); err != nil || c.DrainTimeout < 0 {
		errs = append(errs, errors.New("DRAIN_TIMEOUT must be a duration, e.g. 5m"))
	}
	if c.ShutdownCalls = get("SHUTDOWN_CALLS", sip.ShutdownHangup); c.ShutdownCalls != sip.ShutdownHangup && c.ShutdownCalls != sip.ShutdownHandoff {
		errs = append(errs, errors.New("SHUTDOWN_CALLS must be hangup or handoff"))
	}
	if c.PprofAddr != "" {
		if err := validPprofAddr(c.PprofAddr); err != nil {
			errs = append(errs, err)
		}
	}
	if err := c.LogLevel.UnmarshalText([]byte(get("LOG_LEVEL", "info"))); err != nil {
		errs = append(errs, errors.New("LOG_LEVEL must be debug, info, warn or error"))
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") && !strings.HasPrefix(c.DatabaseURL, "sqlite:") {
		errs = append(errs, errors.New("DATABASE_URL must be postgres://… (or empty for the embedded SQLite)"))
	}
	if c.PublicBaseURL != "" {
		if u, err := url.Parse(c.PublicBaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, errors.New("PUBLIC_BASE_URL must be an absolute http(s) URL"))
		}
	}
	return errs
}

// loadPaths reads the recording and playback settings, the address policy,
// the stream base and the sofia profile.
func (c *Config) loadPaths(get envGetter) []error {
	var errs []error
	var err error
	c.RecordingsDir = get("RECORDINGS_DIR", filepath.Join(c.VarDir, "recordings"))
	c.PlaybackMode = get("PLAYBACK_MODE", "pipe")
	if c.PlaybackMode != "pipe" && c.PlaybackMode != "files" {
		errs = append(errs, errors.New("PLAYBACK_MODE must be pipe or files"))
	}
	if c.AllowPrivateAddresses, err = strconv.ParseBool(get("ALLOW_PRIVATE_ADDRESSES", "true")); err != nil {
		errs = append(errs, errors.New("ALLOW_PRIVATE_ADDRESSES must be true or false"))
	}
	if c.AllowLoopbackAddresses, err = strconv.ParseBool(get("ALLOW_LOOPBACK_ADDRESSES", "false")); err != nil {
		errs = append(errs, errors.New("ALLOW_LOOPBACK_ADDRESSES must be true or false"))
	}
	c.PlaybackDir = get("PLAYBACK_DIR", filepath.Join(c.VarDir, "playback"))
	if abs, err := filepath.Abs(c.PlaybackDir); err == nil {
		c.PlaybackDir = abs // FreeSWITCH opens it from its own working directory
	}
	if strings.ContainsAny(c.PlaybackDir, " \t\r\n'\"") {
		errs = append(errs, errors.New("PLAYBACK_DIR must not contain spaces or quotes (it is an argument of uuid_broadcast)"))
	}
	c.WelcomeAudioDir = get("WELCOME_AUDIO_DIR", filepath.Join(c.VarDir, "welcome"))
	if abs, err := filepath.Abs(c.WelcomeAudioDir); err == nil {
		c.WelcomeAudioDir = abs
	}
	if strings.ContainsAny(c.WelcomeAudioDir, " \t\r\n'\"") {
		errs = append(errs, errors.New("WELCOME_AUDIO_DIR must not contain spaces or quotes"))
	}
	c.TransferHoldAudio = get("TRANSFER_HOLD_AUDIO", "")
	if h := c.TransferHoldAudio; h != "" && (strings.ContainsAny(h, " \t\r\n'\"") || !filepath.IsAbs(h) && !strings.HasPrefix(h, "tone_stream://")) {
		errs = append(errs, errors.New("TRANSFER_HOLD_AUDIO must be an absolute file path or a tone_stream:// path, without spaces or quotes"))
	}
	if err := validStreamBase(c.StreamWSBase); err != nil {
		errs = append(errs, err)
	}
	if c.FSProfile == "" || strings.ContainsAny(c.FSProfile, " /\\\t\r\n") {
		errs = append(errs, errors.New("FS_PROFILE must be a sofia profile name"))
	}
	return errs
}

// validStreamBase checks STREAM_WS_BASE against what mod_audio_stream
// accepts (DESIGN.md): ws/wss, a host of letters, digits, '-' and '.', an
// optional port, and no path, query or user info (sipbridge adds the path).
func validStreamBase(v string) error {
	bad := errors.New("STREAM_WS_BASE must be ws://host[:port] or wss://host[:port] with a host of letters, digits, '-' and '.' only, e.g. ws://127.0.0.1:8080")
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.User != nil || u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/") {
		return bad
	}
	host := u.Hostname()
	if host == "" {
		return bad
	}
	for _, r := range host {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return bad
		}
	}
	return nil
}

// AddressPolicy is the address policy of tenants' URLs and trunks;
// refused and failed connections are logged (debug) to log.
func (c *Config) AddressPolicy(log *slog.Logger) *netpolicy.Policy {
	return &netpolicy.Policy{AllowPrivate: c.AllowPrivateAddresses, AllowLoopback: c.AllowLoopbackAddresses, Log: log}
}

// embedded reports whether the embedded SQLite database is used.
func (c *Config) embedded() bool {
	return c.DatabaseURL == "" || strings.HasPrefix(c.DatabaseURL, "sqlite:")
}

// loadKeys parses SECRET_KEY; with the embedded database and no SECRET_KEY
// it reads (or creates once) a development key under VarDir.
func (c *Config) loadKeys(log *slog.Logger) error {
	key := c.SecretKey
	if key == "" {
		if !c.embedded() {
			return errors.New("SECRET_KEY is required with PostgreSQL: generate one with `openssl rand -base64 32`")
		}
		path := filepath.Join(c.VarDir, "secret.key")
		b, err := os.ReadFile(path)
		switch {
		case err == nil:
			key = strings.TrimSpace(string(b))
		case errors.Is(err, os.ErrNotExist):
			if err := os.MkdirAll(c.VarDir, 0o700); err != nil {
				return err
			}
			key = secret.NewKey()
			if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
				return fmt.Errorf("writing dev secret key: %w", err)
			}
			log.Warn("SECRET_KEY not set: generated a development key; set SECRET_KEY in production", "path", path)
		default:
			return err
		}
	}
	keys, err := secret.ParseKeyring(key)
	if err != nil {
		return err
	}
	c.Keys = keys
	return nil
}

// parseRates reads SMS_RATE_LIMITS: provider=messages-per-second pairs,
// comma-separated.
func parseRates(s string) (map[string]float64, error) {
	out := map[string]float64{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, val, ok := strings.Cut(part, "=")
		name = strings.ToLower(strings.TrimSpace(name))
		r, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if !ok || err != nil || r <= 0 || r > 10000 || (name != provider.NameTwilio && name != provider.NameTelnyx && name != provider.NameVonage) {
			return nil, fmt.Errorf("SMS_RATE_LIMITS: %q: want twilio|telnyx|vonage=<messages per second>, e.g. twilio=10,telnyx=5", part)
		}
		out[name] = r
	}
	return out, nil
}

// appConfig is the bridge's build configuration for the store and logger.
func (c *Config) appConfig(store *db.Store, log *slog.Logger) app.Config {
	playbackDir := ""
	if c.PlaybackMode == "pipe" {
		playbackDir = c.PlaybackDir
	}
	return app.Config{
		Store: store, Log: log,
		Switch: &app.Switch{Addr: c.FSESLAddr, Password: c.FSESLPassword, CallConnections: c.FSCallConnections,
			GenDir: c.FSGenDir, Profile: c.FSProfile, XMLCurl: c.XMLCurl.options(), Front: c.SIPFront.Front,
			Nodes: c.SIPFront.switchNodes()},
		OperatorToken: c.SIPFront.OperatorToken, Replica: c.SIPFront.replica(),
		PublicBaseURL: c.PublicBaseURL, StreamWSBase: c.StreamWSBase, RecordingsDir: c.RecordingsDir, PlaybackDir: playbackDir,
		WelcomeAudioDir: c.WelcomeAudioDir,
		Provider:        c.Provider, Env: c.EnvCredentials(), SMSRates: c.SMSRates,
		EnvTrunk:      trunk.Env{Gateway: c.SIPGateway, Username: c.SIPUsername, Password: c.SIPPassword},
		AddressPolicy: c.AddressPolicy(log.With("component", "address_policy")),
		ACL:           &c.ACL, CallDefaults: c.CallDefaults, LegTimeout: c.LegTimeout,
		SyncInterval: c.SyncInterval, DrainTimeout: c.DrainTimeout,
		CallsOptions: func(co *sip.CallsOptions) { co.ShutdownCalls, co.HoldAudio = c.ShutdownCalls, c.TransferHoldAudio },
	}
}
