package sim

import (
	"strings"
	"testing"
	"time"
)

func TestReadTimeline(t *testing.T) {
	in := `// comment
{"at":"3s","action":"dtmf","digits":"1#"}

{"at":2.5,"action":"message","call":"user67","text":"{\"COMMAND\":\"hold\"}"}
{"action":"dial","call":"phone.*","fail":486}
{"action":"dial","call":"user67","answer_after":"1s"}
{"at":"4s","action":"dtmf","digits":"5","rfc4733":true}
{"at":"5s","action":"audio","call":"user67","audio":"../testdata/sim/beep.wav"}
{"action":"dial","call":"user68","audio":"1000@-10;*(0/0/1)"}
`
	steps, err := ReadTimeline(strings.NewReader(in), "t.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 7 {
		t.Fatalf("got %d steps, want 7", len(steps))
	}
	if steps[0].At != Duration(3*time.Second) || steps[0].Digits != "1#" {
		t.Errorf("step 1: %+v", steps[0])
	}
	if steps[1].At != Duration(2500*time.Millisecond) || steps[1].Call != "user67" {
		t.Errorf("step 2: %+v", steps[1])
	}
	if steps[2].Fail != 486 || *steps[3].AnswerAfter != Duration(time.Second) {
		t.Errorf("dial rules: %+v %+v", steps[2], steps[3])
	}
	if !steps[4].RFC4733 || steps[5].Audio != "../testdata/sim/beep.wav" || steps[6].Audio != "1000@-10;*(0/0/1)" {
		t.Errorf("audio and RFC 4733 steps: %+v %+v %+v", steps[4], steps[5], steps[6])
	}
}

func TestReadTimelineErrorsNameTheLine(t *testing.T) {
	tests := map[string]string{
		`{"at":"1s","action":"dance"}`:                                                 "t.jsonl:1: unknown action \"dance\"",
		`{"at":"1s","action":"dtmf","digits":"x"}`:                                     "t.jsonl:1: dtmf: digits \"x\"",
		`{"at":"1s","action":"message"}`:                                               "t.jsonl:1: message: text is required",
		`{"action":"dial","call":"(","fail":486}`:                                      "t.jsonl:1: dial: call pattern",
		`{"action":"dial","fail":200}`:                                                 "t.jsonl:1: dial: fail code 200",
		`{"at":"soon","action":"hangup"}`:                                              "t.jsonl:1: time: invalid duration",
		`{"at":"1s","action":"hangup","color":"red"}`:                                  "t.jsonl:1: json: unknown field \"color\"",
		`{"at":"-1s","action":"hangup"}`:                                               "t.jsonl:1: at must not be negative",
		`{"at":"1s","action":"audio"}`:                                                 "t.jsonl:1: audio: audio is required",
		`{"at":"1s","action":"transfer"}`:                                              "t.jsonl:1: transfer: to is required",
		`{"at":"1s","action":"info","text":"x"}`:                                       "t.jsonl:1: info: mime_type \"\" is not type/subtype",
		`{"at":"1s","action":"info","mime_type":"text/plain\r\nX-Evil: 1","text":"x"}`: "t.jsonl:1: info: mime_type \"text/plain\\r\\nX-Evil: 1\" is not type/subtype",
		`{"at":"1s","action":"audio","audio":"x.wav"}`:                                 "t.jsonl:1: audio: stat x.wav",
		`{"action":"dial","audio":"440@-10;*(0/0)"}`:                                   "t.jsonl:1: dial: tone script",
		`not json`: "t.jsonl:1: invalid character",
	}
	for in, want := range tests {
		_, err := ReadTimeline(strings.NewReader(in), "t.jsonl")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want it to contain %q", in, err, want)
		}
	}
}

func TestParseFlags(t *testing.T) {
	timed, err := ParseTimed("1@3s, #@5s")
	if err != nil || len(timed) != 2 || timed[1] != [2]string{"#", "5s"} {
		t.Errorf("ParseTimed = %v, %v", timed, err)
	}
	if _, err := ParseTimed("13s"); err == nil {
		t.Error("ParseTimed accepted a value without @")
	}
	st, err := ParseFail("486:phone67")
	if err != nil || st.Fail != 486 || st.Call != "phone67" {
		t.Errorf("ParseFail = %+v, %v", st, err)
	}
	for _, bad := range []string{"busy", "200", "486:("} {
		if _, err := ParseFail(bad); err == nil {
			t.Errorf("ParseFail(%q) accepted", bad)
		}
	}
	if Reason(487) != "Request Terminated" || Reason(499) != "Failure" {
		t.Error("Reason phrases")
	}
}
