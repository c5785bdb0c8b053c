package sip

import (
	"strings"

	"vox/runtime"
)

// connectionClosed ends the calls that ran over a connection that closed:
// a browser whose WebSocket is gone can neither be reached nor hang up.
func (c *calls) connectionClosed(transport, peer string) {
	c.mu.Lock()
	var gone []*leg
	for l := range c.legs {
		if l.overConnection(transport, peer) {
			gone = append(gone, l)
		}
	}
	c.mu.Unlock()
	for _, l := range gone {
		l.log.Info("sip: the connection of the call closed", "transport", transport, "peer", peer)
		if l.inbound || l.answered() {
			if l.in != nil {
				l.in.finish(480, nil)
			}
			l.end(runtime.EventDisconnected, nil)
			continue
		}
		l.forksLost(transport, peer)
	}
}

// overConnection says whether the leg's dialog, or one of its forks, runs
// over transport to peer.
func (l *leg) overConnection(transport, peer string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.dlg != nil {
		return strings.EqualFold(l.dlg.transport, transport) && l.dlg.peer == peer
	}
	if l.out != nil {
		for _, f := range l.out.forks {
			if !f.done && strings.EqualFold(f.transport, transport) && f.peer == peer {
				return true
			}
		}
	}
	return false
}

func (l *leg) answered() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.dlg != nil
}

// forksLost fails the forks of an unanswered outgoing call that went over a
// connection that closed; the others ring on.
func (l *leg) forksLost(transport, peer string) {
	l.mu.Lock()
	var lost []*fork
	for _, f := range l.out.forks {
		if !f.done && strings.EqualFold(f.transport, transport) && f.peer == peer {
			lost = append(lost, f)
		}
	}
	l.mu.Unlock()
	for _, f := range lost {
		l.forkFailed(f, 480, "Temporarily Unavailable")
	}
}
