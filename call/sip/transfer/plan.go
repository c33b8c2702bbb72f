// Package transfer decides how a SIP call's transfer reaches its target
// (a REFER, a bridge out through the organization's trunks, or a REFER
// whose decline falls back to the bridge: Plan) and follows a REFER sent
// until its outcome is known (Refer). The call's session (call/sip) does
// the rest: it sends the commands, writes the timeline and moves the call.
package transfer

import (
	"context"
	"time"

	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/call/sip/trunkdial"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/netpolicy"
)

// Plan is what a transfer will do, decided before the assistant is let
// go, so that a transfer that cannot happen leaves the call as it was.
type Plan struct {
	To       string
	ReferURI string // send a REFER to this URI first ("": bridge at once)
	BridgeTo string // the E.164 number to bridge to: at once, or when the REFER is declined
	Dial     string // its originate dial string ("" when bridging cannot be done)
	DialErr  error  // why not
	DialID   string // sipbridge_dial of its legs (hupall cancels them)
	// Warm: the caller waits on hold while the assistant briefs the
	// answered target (Warm), then the two are bridged.
	Warm bool
	// Back is the state the call goes back to when the transfer fails.
	Back call.State
}

// Store is what planning reads: the organization (its destination rules,
// its trunk setting) and its enabled trunks.
type Store interface {
	GetOrg(ctx context.Context, id int64) (*db.Organization, error)
	EnabledTrunksOfOrg(ctx context.Context, orgID int64) ([]db.SIPTrunk, error)
}

// Call is what planning needs of the call being transferred.
type Call struct {
	Ctx        context.Context // ends when sipbridge stops
	Store      Store
	Policy     netpolicy.Policy // the hosts a REFER or an INVITE may go to
	ID         string           // our call id (sipbridge_call_id of the bridge legs)
	OrgID      int64
	CallerID   string        // the bridge legs' caller id
	Trunk      *db.SIPTrunk  // the call's trunk (nil: none): its REFER template
	OwnTrunkID string        // the number's trunk, dialled first ("": none)
	LegTimeout time.Duration // per trunk that sets no ring time
	// Track is told the dial id and trunks (in dial order) of the bridge
	// legs planned, before New returns.
	Track func(dialID string, trunks []db.SIPTrunk)
}

// New decides how to reach `to`. mode "" picks by the target: a sip: URI
// gets a REFER (a declined one falls back to bridging the URI's number, if
// it is one); an E.164 number gets a REFER when the call's trunk transfers
// by REFER (Refer-To from its template), else it is bridged out through
// the organization's trunks. mode "refer" and "bridge" force it; "warm"
// bridges out too, after the assistant has briefed the target.
func New(c Call, to, mode string) (*Plan, error) {
	if !call.TransferMode(mode).Known() {
		return nil, call.ErrUnknownTransferMode
	}
	t, err := call.ParseTransferTarget(to)
	if err != nil {
		return nil, err
	}
	p := &Plan{To: to, Warm: mode == string(call.TransferWarm)}
	if p.Warm {
		if t.SIPURI != "" {
			t.E164 = call.E164User(t.SIPURI)
		}
		if t.E164 == "" {
			return nil, call.ErrWarmNeedsNumber
		}
		t.SIPURI, t.HostPort, mode = "", "", "bridge" // dialled through the trunks
	}
	tr := c.Trunk
	hasTemplate := tr != nil && tr.ReferToTemplate != ""
	switch {
	case t.SIPURI != "" && mode != "bridge":
		p.ReferURI, p.BridgeTo = t.SIPURI, call.E164User(t.SIPURI)
	case t.SIPURI != "": // bridge to the URI's number
		if p.BridgeTo = call.E164User(t.SIPURI); p.BridgeTo == "" {
			return nil, call.ErrBadTransferMode
		}
	case mode == "refer" && !hasTemplate:
		return nil, call.ErrNoReferTemplate
	case mode == "refer" || (mode == "" && hasTemplate && tr.TransferMode == "refer"):
		p.ReferURI, p.BridgeTo = call.ApplyReferTemplate(tr.ReferToTemplate, t.E164), t.E164
	default:
		p.BridgeTo = t.E164
	}
	// The host FreeSWITCH will send the REFER (or the INVITE) to: the
	// target's, or the template's, checked now as well as at write time
	// (a name may resolve elsewhere since, the policy may have changed).
	if host := t.HostPort; host != "" || p.ReferURI != "" {
		if host == "" {
			host = call.ReferTemplateHostPort(tr.ReferToTemplate)
		}
		if err := call.CheckTransferHost(c.Ctx, c.Policy, host); err != nil {
			return nil, err
		}
	}
	if p.BridgeTo != "" {
		// The number is reached either way: bridged out, or dialled by
		// the carrier after the REFER, which bills the organization too.
		if err := c.checkDestination(p.BridgeTo); err != nil {
			return nil, err
		}
		leg := LegTransfer
		if p.Warm {
			leg = LegWarm
		}
		p.Dial, p.DialID, p.DialErr = c.bridgeDial(p.BridgeTo, leg)
		if p.ReferURI == "" && p.DialErr != nil {
			return nil, p.DialErr // nothing else to try: refuse before letting go
		}
	}
	return p, nil
}

// checkDestination applies the organization's destination rules
// (call.CheckDestination) to the number a transfer reaches.
func (c Call) checkDestination(number string) error {
	ctx, cancel := context.WithTimeout(c.Ctx, 10*time.Second)
	defer cancel()
	org, err := c.Store.GetOrg(ctx, c.OrgID)
	if err != nil {
		return err
	}
	return call.CheckDestination(org, number)
}

// The sipbridge_leg of a transfer's originated leg: a bridge's (the caller
// is bridged to it once it answers) or a warm transfer's (parked, briefed
// by the assistant while the caller holds, bridged only on complete). A
// sipbridge taking the call over after a restart tells them apart by it.
const (
	LegTransfer = "transfer"
	LegWarm     = "warm"
)

// bridgeDial prepares the originate that bridges the call out to number
// through the organization's enabled trunks (the number's own trunk first,
// then by priority; one originate fails over from leg to leg), after the
// outbound country allow-list; its legs carry sipbridge_leg leg.
func (c Call) bridgeDial(number, leg string) (dial, dialID string, err error) {
	ctx, cancel := context.WithTimeout(c.Ctx, 10*time.Second)
	defer cancel()
	org, err := c.Store.GetOrg(ctx, c.OrgID)
	if err != nil {
		return "", "", err
	}
	if err := call.CheckDestination(org, number); err != nil {
		return "", "", err
	}
	trunks, err := c.Store.EnabledTrunksOfOrg(ctx, c.OrgID)
	if err != nil {
		return "", "", err
	}
	dialID = db.NewID()
	dial, err = trunkdial.DialString(trunks, c.OwnTrunkID, number, trunkdial.Options{
		LeadingPlus: org.Settings.SIPTrunkConfig.OutboundLeadingPlusEnabled,
		CallerID:    c.CallerID, LegTimeout: c.LegTimeout,
		Vars: map[string]string{"sipbridge_call_id": c.ID, "sipbridge_dial": dialID, "sipbridge_leg": leg},
	})
	if err == nil && c.Track != nil {
		c.Track(dialID, trunkdial.Order(trunks, c.OwnTrunkID))
	}
	return dial, dialID, err
}
