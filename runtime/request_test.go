package runtime

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A request on the access URL reaches the scenario as Application.HttpRequest
// and the scenario's answer comes back (S20), in each of the ways a scenario
// can give it.
func TestRequestGetsTheScenariosAnswer(t *testing.T) {
	cases := []struct {
		name string
		src  string
		want HTTPAnswer
	}{
		{
			name: "listener returns an object: JSON",
			src: `VoxEngine.addEventListener(AppEvents.HttpRequest, (e) => {
				const cmd = JSON.parse(e.content);
				return {ok: true, user: cmd.USER_ID, method: e.method};
			});`,
			want: HTTPAnswer{Status: 200, ContentType: "application/json", Body: `{"ok":true,"user":67,"method":"POST"}`},
		},
		{
			name: "listener returns a string: as it is",
			src:  `VoxEngine.addEventListener(AppEvents.HttpRequest, () => "queued");`,
			want: HTTPAnswer{Status: 200, ContentType: "text/plain; charset=utf-8", Body: "queued"},
		},
		{
			name: "listener returns a promise: answered when it settles",
			src: `VoxEngine.addEventListener(AppEvents.HttpRequest, () =>
				new Promise((resolve) => setTimeout(() => resolve({later: 1}), 10)));`,
			want: HTTPAnswer{Status: 200, ContentType: "application/json", Body: `{"later":1}`},
		},
		{
			name: "rejected promise: 500 with a JSON error",
			src: `VoxEngine.addEventListener(AppEvents.HttpRequest, async () => {
				throw new Error("CRM down");
			});`,
			want: HTTPAnswer{Status: 500, ContentType: "application/json", Body: `{"error":{"code":"scenario_failed","message":"the scenario could not answer"}}`},
		},
		{
			name: "listener returns nothing: empty 200",
			src:  `VoxEngine.addEventListener(AppEvents.HttpRequest, () => { Logger.write("heard"); });`,
			want: HTTPAnswer{Status: 200},
		},
		{
			name: "no listener at all: empty 200 at once",
			src:  `Logger.write("deaf");`,
			want: HTTPAnswer{Status: 200},
		},
		{
			name: "engine protocol: onPhoneEvent returns the answer",
			src: `function onPhoneEvent(e) {
				if (e.name === "Application.HttpRequest") return {raw: e.content.length};
			}`,
			want: HTTPAnswer{Status: 200, ContentType: "application/json", Body: `{"raw":31}`},
		},
		{
			name: "engine protocol: the HttpResponse command",
			src: `function onPhoneEvent(e) {
				if (e.name === "Application.HttpRequest") {
					Engine.command("HttpResponse", {requestId: e.requestId, content: "done", status: 202});
				}
			}`,
			want: HTTPAnswer{Status: 202, Body: "done"},
		},
		{
			name: "engine protocol: onPhoneEvent returns a promise",
			src: `function onPhoneEvent(e) {
				if (e.name === "Application.HttpRequest") {
					return new Promise((resolve) => setTimeout(() => resolve("later"), 5));
				}
			}`,
			want: HTTPAnswer{Status: 200, ContentType: "text/plain; charset=utf-8", Body: "later"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, log := startSession(t, context.Background(), tc.src, Config{})
			defer func() {
				s.Terminate("test over")
				waitDone(t, s)
			}()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			got, err := s.Request(ctx, "POST", "/calls/x", `{"COMMAND":"user","USER_ID":67}`)
			if err != nil {
				t.Fatalf("Request: %v\n%s", err, log.String())
			}
			if got != tc.want {
				t.Errorf("answer %+v, want %+v", got, tc.want)
			}
		})
	}
}

// A request whose answer never comes ends with the caller's deadline, and one
// made to a session that ends meanwhile with ErrSessionEnded; neither blocks.
func TestRequestWithoutAnAnswer(t *testing.T) {
	s, _ := startSession(t, context.Background(),
		`VoxEngine.addEventListener(AppEvents.HttpRequest, () => new Promise(() => {}));`, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.Request(ctx, "POST", "/", "{}"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("unanswered request: %v, want the deadline", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := s.Request(context.Background(), "POST", "/", "{}")
		done <- err
	}()
	s.Terminate("test over")
	select {
	case err := <-done:
		if !errors.Is(err, ErrSessionEnded) {
			t.Errorf("request to an ending session: %v, want ErrSessionEnded", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the request outlived its session")
	}
}

// A listener that throws fails the session as any uncaught error does; the
// request gets ErrSessionEnded, not an empty answer.
func TestRequestToAFailingScenario(t *testing.T) {
	s, log := startSession(t, context.Background(),
		`VoxEngine.addEventListener(AppEvents.HttpRequest, () => { throw new Error("bad command"); });`, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.Request(ctx, "POST", "/", "{}"); !errors.Is(err, ErrSessionEnded) {
		t.Errorf("request: %v, want ErrSessionEnded", err)
	}
	waitDone(t, s)
	if !errors.Is(s.Err(), ErrScenario) {
		t.Errorf("session error %v\n%s", s.Err(), log.String())
	}
}
