package controller

import "github.com/sipbridge/sipbridge/netpolicy"

// addressPolicy is the policy an option holds, netpolicy.Default() when it
// holds none.
func addressPolicy(p *netpolicy.Policy) netpolicy.Policy {
	if p == nil {
		return netpolicy.Default()
	}
	return *p
}
