package main

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"vox/controller"
	"vox/media"
	"vox/runtime"
)

// pstnLeg stands for the trunk's leg: the test plays the far end by posting
// its events, and sees the hangup the billing asks for. (A real trunk call is
// TestTrunkCallPSTN's; this one needs a call that outlives its balance.)
type pstnLeg struct {
	runtime.Leg
	id     string
	sink   runtime.EventSink
	hungUp chan struct{}
	once   sync.Once
}

func (l *pstnLeg) ID() string                      { return l.id }
func (l *pstnLeg) Attach(events runtime.EventSink) { l.sink = events }
func (l *pstnLeg) Hangup(context.Context, int, map[string]string) error {
	l.once.Do(func() {
		close(l.hungUp)
		l.sink.Post(runtime.Event{Name: runtime.EventDisconnected, CallID: l.id})
	})
	return nil
}

type pstnDialer struct{ legs chan *pstnLeg }

func (d pstnDialer) Dial(_ context.Context, req runtime.DialRequest) (runtime.Leg, error) {
	l := &pstnLeg{id: req.ID, hungUp: make(chan struct{})}
	d.legs <- l
	return l, nil
}

type eventLog chan runtime.Event

func (e eventLog) Post(ev runtime.Event) { e <- ev }

func TestBilledPSTNCalls(t *testing.T) {
	t.Parallel()
	c := openTestController(t)
	ctx := context.Background()
	if _, err := c.CreateAccount(ctx, controller.NewAccount{ID: demoAccount, Currency: "RUB", Country: "RU"}); err != nil {
		t.Fatal(err)
	}
	// 0.60 a minute by the second: 0.01 a second.
	if err := c.SetTariffs(ctx, "RUB", []controller.Tariff{{Prefix: "7", PerMinute: 600_000, Increment: 1}}); err != nil {
		t.Fatal(err)
	}
	legs := make(chan *pstnLeg, 1)
	d := &billedDialer{next: pstnDialer{legs}, billing: c, log: discardLog()}
	dial := func(id, to string) (runtime.Leg, error) {
		return d.Dial(ctx, runtime.DialRequest{ID: id, Account: demoAccount, Kind: runtime.DialPSTN, To: to})
	}

	var de *runtime.DialError
	if _, err := dial("broke", "8 495 123-45-67"); !errors.As(err, &de) || de.Code != 402 {
		t.Fatalf("no balance: %v", err)
	}
	if _, err := dial("abroad", "+44 20 7946 0958"); !errors.As(err, &de) || de.Code != 403 {
		t.Fatalf("no tariff: %v", err)
	}
	// A user's call is not the controller's business.
	if _, err := d.Dial(ctx, runtime.DialRequest{ID: "u", Account: demoAccount, Kind: runtime.DialUser, To: "phone68"}); err != nil {
		t.Fatalf("a user call: %v", err)
	}
	<-legs

	// Two seconds' worth: the call is cut when they are used up, and charged.
	if _, err := c.TopUp(ctx, demoAccount, 20_000, "topup:1", ""); err != nil {
		t.Fatal(err)
	}
	leg, err := dial("out", "8 495 123-45-67")
	if err != nil {
		t.Fatal(err)
	}
	fake := <-legs
	events := make(eventLog, 10)
	leg.Attach(events)
	if _, ok := leg.(interface{ MediaChannel() *media.Channel }); !ok {
		t.Error("a billed leg cannot be bridged")
	}
	fake.sink.Post(runtime.Event{Name: runtime.EventConnected, CallID: "out"})
	select {
	case <-fake.hungUp:
	case <-time.After(30 * time.Second):
		t.Fatal("the call outlived its balance")
	}
	for _, want := range []string{runtime.EventConnected, runtime.EventDisconnected} {
		if e := <-events; e.Name != want {
			t.Errorf("the scenario heard %s, want %s", e.Name, want)
		}
	}
	d.charging.Wait()
	b, _ := c.Balance(ctx, demoAccount)
	entries, _, _ := c.Ledger(ctx, demoAccount, 0, 10)
	last := entries[len(entries)-1]
	if last.Kind != controller.KindCall || last.Destination != "74951234567" || last.Seconds != 2 || b.Balance != 0 {
		t.Errorf("after the cut: balance %s, last entry %+v", b.Balance, last)
	}
	// A call that fails before an answer costs nothing and frees its slot.
	c.TopUp(ctx, demoAccount, 1_000_000, "topup:2", "")
	leg, err = dial("unanswered", "84951234567")
	if err != nil {
		t.Fatal(err)
	}
	fake = <-legs
	leg.Attach(events)
	fake.sink.Post(runtime.Event{Name: runtime.EventFailed, CallID: "unanswered"})
	<-events
	d.charging.Wait()
	if after, _ := c.Balance(ctx, demoAccount); after.Balance != b.Balance+1_000_000 {
		t.Errorf("an unanswered call cost %s", b.Balance+1_000_000-after.Balance)
	}
}
