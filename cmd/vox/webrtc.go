package main

import (
	"context"

	"vox/sip"
	"vox/webrtc"
)

// browserMedia is the webrtc engine as the sip package asks for it
// (sip.WebRTC): browsers' calls get their media there, and the SIP server
// closes it when it shuts down.
type browserMedia struct{ engine *webrtc.Engine }

func (b browserMedia) IsWebRTC(sdp []byte) bool { return webrtc.IsWebRTC(sdp) }

func (b browserMedia) Answer(ctx context.Context, offer []byte) (sip.BrowserMedia, []byte, error) {
	m, answer, err := b.engine.Answer(ctx, offer)
	if err != nil {
		return nil, nil, err
	}
	return m, answer, nil
}

func (b browserMedia) Offer(ctx context.Context) (sip.BrowserMedia, []byte, error) {
	m, offer, err := b.engine.Offer(ctx)
	if err != nil {
		return nil, nil, err
	}
	return m, offer, nil
}

func (b browserMedia) Close() error { return b.engine.Close() }
