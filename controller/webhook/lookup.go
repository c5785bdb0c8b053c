package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// IncomingCall is the type of the lookup request.
const IncomingCall = "IncomingCall"

// maxAnswer bounds the portal's answer to a lookup.
const maxAnswer = 16 << 10

// Lookup asks the account's portal who is responsible for an incoming call
// (S8): it posts an IncomingCall event, signed like the webhooks, and returns
// the portal's JSON object as it is ({"userId":67} or {"userId":null}). It is
// not queued: the call is waiting. When the portal does not answer within
// LookupTimeout it returns ErrTimeout, and the scenario falls back.
func (o *Outbox) Lookup(ctx context.Context, account, from, to string) (json.RawMessage, error) {
	portal, err := o.opts.Portals.Portal(ctx, account)
	if err != nil {
		return nil, fmt.Errorf("lookup for %s: %w", account, err)
	}
	data, err := json.Marshal(map[string]string{"from": from, "to": to})
	if err != nil {
		return nil, err
	}
	ev := Event{ID: NewEventID(), Type: IncomingCall, Account: account, Time: o.opts.Now().UTC(), Data: data}
	body, err := json.Marshal(ev)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.opts.LookupTimeout)
	defer cancel()
	resp, err := o.send(ctx, portal, ev, body)
	if errors.Is(err, context.DeadlineExceeded) {
		return nil, fmt.Errorf("lookup for %s after %s: %w", account, o.opts.LookupTimeout, ErrTimeout)
	}
	if err != nil {
		return nil, fmt.Errorf("lookup for %s: %w", account, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if errors.Is(err, context.DeadlineExceeded) {
		return nil, fmt.Errorf("lookup for %s after %s: %w", account, o.opts.LookupTimeout, ErrTimeout)
	}
	if err != nil {
		return nil, fmt.Errorf("lookup for %s: %w", account, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, fmt.Errorf("lookup for %s: the portal answered HTTP %d", account, resp.StatusCode)
	}
	var obj map[string]json.RawMessage
	if len(answer) > maxAnswer || json.Unmarshal(answer, &obj) != nil || obj == nil {
		return nil, fmt.Errorf("lookup for %s: the portal's answer is not a JSON object of at most %d bytes", account, maxAnswer)
	}
	return answer, nil
}
