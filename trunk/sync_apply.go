package trunk

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/sipbridge/sipbridge/db"
)

// apply sends each node its commands, the files being written. A node
// whose commands fail keeps its error (the others go on); when FreeSWITCH
// rejects the new files, the previous ones come back and the nodes not
// yet applied are left alone.
func (s *Sync) apply(ctx context.Context, p *plan, res *PassResult) {
	var rejected error
	for _, np := range p.steps {
		if np.down {
			continue
		}
		if rejected != nil {
			np.err = fmt.Errorf("not applied: another node rejected the files: %w", rejected)
			continue
		}
		np.err = s.applyNode(ctx, p, np, res)
		if np.err == nil || !s.perNode {
			continue
		}
		if errors.Is(np.err, ErrRejected) {
			rejected = np.err
		} else {
			s.mu.Lock()
			s.missedLocked(np.n)
			s.mu.Unlock()
		}
	}
}

// applyNode sends one node its commands: killgw for changed and removed
// gateways (waiting for their deletion), reloadacl, rescan. When
// FreeSWITCH rejects the files (with one node: when the rescan fails),
// the previous ones come back.
func (s *Sync) applyNode(ctx context.Context, p *plan, np *nodePlan, res *PassResult) error {
	n := np.n
	if err := s.kill(ctx, n, np.toKill, res); err != nil {
		s.log.Warn("killgw incomplete", "err", err)
	}
	reloadOK := func(r string) bool { return strings.HasPrefix(r, "+OK") }
	if np.aclReload {
		if err := s.command(ctx, n, "reloadacl", res, reloadOK); err != nil {
			return err
		}
		s.mu.Lock()
		n.aclLoaded = true
		s.mu.Unlock()
	}
	if len(np.toAdd) == 0 {
		return nil
	}
	err := s.rescan(ctx, n, res)
	if err == nil {
		s.mu.Lock()
		n.rescan = false
		s.mu.Unlock()
	}
	if err != nil && ctx.Err() == nil && (!s.perNode || errors.Is(err, ErrRejected)) {
		// Rejected XML or -ERR: keep the last good files.
		s.log.Error("rescan failed; restoring the previous files", "err", err)
		s.restore(p.prev, res)
		// Bring back what the kills removed, with the previous files.
		if err := s.rescan(ctx, n, res); err != nil {
			s.log.Error("rescan with the previous files failed", "err", err)
		}
		if np.aclReload {
			_ = s.command(ctx, n, "reloadacl", res, reloadOK)
		}
	}
	return err
}

// writeFailed handles a generated file that could not be written (the
// folder read-only, full, a path taken): the files this pass wrote go back
// to their last good bytes, FreeSWITCH is not touched, and the trunks the
// pass was for show sync_status error with the cause (without the
// server's path). The loop retries the pass.
func (s *Sync) writeFailed(ctx context.Context, trunks []db.SIPTrunk, p *plan, err error, res *PassResult) error {
	s.restore(p.prev, res)
	cause := err
	var pe *os.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		cause = pe.Err
	case errors.As(err, &le):
		cause = le.Err
	}
	passErr := fmt.Errorf("generated files not written (FS_GEN_DIR): %w", cause)
	touched := map[string]bool{}
	for _, np := range p.steps {
		for _, n := range append(slices.Clone(np.toAdd), np.toKill...) {
			touched[n] = true
		}
	}
	results := slices.Clone(p.results)
	for name, d := range p.gws {
		if touched[name] {
			results = append(results, db.SyncResult{TrunkID: d.trunk.ID, State: "error", Message: passErr.Error()})
		}
	}
	byNode := map[*node][]db.SyncResult{}
	for _, n := range s.nodes {
		byNode[n] = results
	}
	if serr := s.store.SetSyncResults(ctx, changedResults(trunks, s.aggregate(trunks, byNode))); serr != nil {
		s.log.Error("trunk sync status not saved", "err", serr)
	}
	return fmt.Errorf("%w (%w)", passErr, err)
}

// settle records what each node now holds after a pass and returns its
// trunks' sync results: applied or pending, or the node's error for the
// gateways its pass touched (every gateway, when the node is down).
func (s *Sync) settle(ctx context.Context, p *plan, res *PassResult) map[*node][]db.SyncResult {
	out := make(map[*node][]db.SyncResult, len(p.steps))
	for _, np := range p.steps {
		if np.down {
			out[np.n] = downResults(p, np)
			continue
		}
		results := slices.Clone(p.results)
		if np.err != nil {
			changed := map[string]bool{}
			for _, n := range np.toAdd {
				changed[n] = true
			}
			for _, n := range np.toKill {
				changed[n] = true
			}
			for name, d := range p.gws {
				if changed[name] || len(np.toAdd) > 0 && changed[""] {
					results = append(results, db.SyncResult{TrunkID: d.trunk.ID, State: "error", Message: np.err.Error()})
				}
			}
			out[np.n] = results
			continue
		}
		s.mu.Lock()
		for _, name := range np.toAdd {
			if d, ok := p.gws[name]; ok && !np.n.present[name] {
				np.n.present[name] = true
				np.n.loaded[name] = d.hash
			}
		}
		s.mu.Unlock()
		out[np.n] = s.nodeApplied(np.n, p.gws, results)
		s.readIPAuthStates(ctx, np.n, p.gws, np.toAdd, res)
	}
	return out
}

// downResults are the results on a node that could not be read: every
// wanted gateway shows why.
func downResults(p *plan, np *nodePlan) []db.SyncResult {
	results := slices.Clone(p.results)
	for _, d := range p.gws {
		results = append(results, db.SyncResult{TrunkID: d.trunk.ID, State: "error", Message: np.err.Error()})
	}
	return results
}

// appliedResults are each node's results of a pass with nothing to do.
func (s *Sync) appliedResults(p *plan) map[*node][]db.SyncResult {
	out := make(map[*node][]db.SyncResult, len(p.steps))
	for _, np := range p.steps {
		if np.down {
			out[np.n] = downResults(p, np)
		} else {
			out[np.n] = s.nodeApplied(np.n, p.gws, slices.Clone(p.results))
		}
	}
	return out
}

func (s *Sync) nodeApplied(n *node, gws map[string]*desiredGateway, results []db.SyncResult) []db.SyncResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, d := range gws {
		if n.present[name] && n.loaded[name] == d.hash {
			results = append(results, db.SyncResult{TrunkID: d.trunk.ID, State: "applied", Message: d.warning})
		} else {
			results = append(results, db.SyncResult{TrunkID: d.trunk.ID, State: "pending", Message: "waiting for FreeSWITCH to release the previous gateway"})
		}
	}
	return results
}
