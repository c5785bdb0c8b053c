package runtime

import (
	"context"
	"reflect"
	"testing"
	"time"
)

// OnEnd hears once, at the session's end, what became of each of its calls:
// the call record is made of it (S5).
func TestOnEndSummarisesTheCalls(t *testing.T) {
	clock := NewVirtualClock(time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC))
	ends := make(chan SessionSummary, 2)
	src := `
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
	e.call.answer();
	e.call.addEventListener(CallEvents.Connected, () => {
		e.call.record();
		VoxEngine.callPSTN("74954451120", "74951234567");
	});
	e.call.addEventListener(CallEvents.RecordStarted, () => setTimeout(() => VoxEngine.terminate(), 30000));
});`
	leg := &recordingLeg{id: "in-1"}
	// The far end answers, then the recording starts, each when the session
	// has nothing else to do.
	far := []func(){
		func() { leg.post(EventConnected, nil) },
		func() { leg.post(EventRecordStarted, map[string]any{"url": "http://vox/records/acme/r1.wav"}) },
	}
	// The call is handed over before the session runs: an OnIdle before
	// it would post to a leg not yet attached.
	s, log := startCallSession(t, context.Background(), src, Config{
		Clock: clock, Info: SessionInfo{SessionID: "s-1", AccountID: "acme"}, Name: "demo", Release: "demo@3",
		OnEnd: func(sum SessionSummary) { ends <- sum },
		OnIdle: func() bool {
			if len(far) == 0 {
				return false
			}
			far[0]()
			far = far[1:]
			return true
		},
	}, Incoming{Leg: leg, CallerID: "79112233444", Destination: "74951234567"})
	waitDone(t, s)
	sum := <-ends
	select {
	case again := <-ends:
		t.Fatalf("OnEnd called twice: %+v", again)
	default:
	}
	start := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	want := SessionSummary{
		SessionID: "s-1", AccountID: "acme", App: "demo", Release: "demo@3",
		Start: start, End: start.Add(30 * time.Second),
		Legs: []LegSummary{
			{ID: "in-1", Incoming: true, From: "79112233444", To: "74951234567", Start: start, Connected: start,
				End: start.Add(30 * time.Second), Code: 200, Reason: "OK", RecordURLs: []string{"http://vox/records/acme/r1.wav"}},
			{ID: sum.Legs[1].ID, Kind: DialPSTN, From: "74951234567", To: "74954451120", Start: start, End: start,
				Code: 404, Reason: "Not Found"},
		},
	}
	if !reflect.DeepEqual(sum, want) {
		t.Errorf("summary\n%+v\nwant\n%+v\n%s", sum, want, log.String())
	}
	if got := sum.Legs[0].Talk(); got != 30*time.Second {
		t.Errorf("talk time %v, want 30s", got)
	}
}
