// Package sdp owns the offer/answer of a call's audio (RFC 3264 over RFC
// 4566 session descriptions): which G.711 codec, telephone-event (RFC 4733),
// ptime, the direction that puts a call on hold (RFC 6337), and where the far
// end receives RTP and RTCP. The SIP and WebRTC legs use it to configure a
// media/rtp Endpoint; parsing and printing are github.com/pion/sdp/v3's.
package sdp

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	psdp "github.com/pion/sdp/v3"
)

// Errors of offer/answer.
var (
	ErrNoAudio  = errors.New("sdp: no audio stream")
	ErrRejected = errors.New("sdp: audio stream rejected (port 0)")
	ErrNoCodec  = errors.New("sdp: no codec in common")
	ErrAddress  = errors.New("sdp: bad connection address")
	ErrNoCrypto = errors.New("sdp: no SRTP crypto suite in common")
)

// Direction is an audio stream's direction attribute, from the point of view
// of the side that writes it.
type Direction string

// The four directions of RFC 3264 §5.1.
const (
	SendRecv Direction = "sendrecv"
	SendOnly Direction = "sendonly"
	RecvOnly Direction = "recvonly"
	Inactive Direction = "inactive"
)

// Sends and Receives say what a side writing d does.
func (d Direction) Sends() bool    { return d == SendRecv || d == SendOnly || d == "" }
func (d Direction) Receives() bool { return d == SendRecv || d == RecvOnly || d == "" }

func direction(send, recv bool) Direction {
	switch {
	case send && recv:
		return SendRecv
	case send:
		return SendOnly
	case recv:
		return RecvOnly
	}
	return Inactive
}

// Codec is an audio codec as SDP names it.
type Codec struct {
	PT   uint8
	Name string
	Rate int
}

// The codecs Vox carries, with their static payload types (RFC 3551 §6).
var (
	PCMU = Codec{PT: 0, Name: "PCMU", Rate: 8000}
	PCMA = Codec{PT: 8, Name: "PCMA", Rate: 8000}
)

// Defaults of a Session.
const (
	DefaultEventPT = 101
	DefaultPtime   = 20
	eventName      = "telephone-event"
)

// Session is what our side puts in its SDP. The zero value with Addr set
// offers PCMU, PCMA and telephone-event on 101, sendrecv, 20 ms.
type Session struct {
	Addr      netip.AddrPort // where we receive RTP; RTCP is one port above
	Codecs    []Codec        // in preference order; default PCMU, PCMA
	EventPT   uint8          // default DefaultEventPT
	NoEvents  bool           // offer no telephone-event
	Direction Direction      // default SendRecv; SendOnly to hold
	// ID is the o= session id, the same in every SDP of the session (RFC
	// 3264 section 8), which is why it is not drawn here: NewSession draws
	// it once.
	ID      uint64
	Version uint64 // o= version: increment it for each new offer in a dialog
	// Crypto, when set, makes the stream SRTP keyed in SDP (RFC 4568): the
	// profile RTP/SAVP and one a=crypto line with our key.
	Crypto *Crypto
	// KeysOnAVP keeps the profile RTP/AVP for a stream with Crypto: the
	// far end offered its keys there, as phones set to "SRTP optional"
	// do, ready for plain RTP from a peer that ignores them.
	KeysOnAVP bool
	// Feedback makes the profile RTP/AVPF (RTP/SAVPF with Crypto, RFC 4585):
	// an answer takes it from the offer, and the leg keeps it for its own
	// later offers, which must not change the profile under the far end.
	Feedback bool
}

// Crypto is one a=crypto line (RFC 4568 section 9.1) with a single master
// key and no MKI or session parameters, which is all Vox sends or takes.
type Crypto struct {
	Tag   int
	Suite string // AES_CM_128_HMAC_SHA1_80 and the like
	Key   []byte // the master key and salt, decoded
}

func (c Crypto) attribute() psdp.Attribute {
	return psdp.NewAttribute("crypto", fmt.Sprintf("%d %s inline:%s", c.Tag, c.Suite, base64.StdEncoding.EncodeToString(c.Key)))
}

// parseCrypto reads an a=crypto value; ok is false for one Vox cannot use
// (several keys, an MKI, session parameters such as UNENCRYPTED_SRTP).
func parseCrypto(v string) (c Crypto, ok bool) {
	f := strings.Fields(v)
	if len(f) != 3 {
		return Crypto{}, false
	}
	tag, err := strconv.Atoi(f[0])
	if err != nil || tag < 0 || tag > 999999999 {
		return Crypto{}, false
	}
	key, found := strings.CutPrefix(f[2], "inline:")
	if !found || strings.Contains(key, ";") {
		return Crypto{}, false
	}
	key, lifetime, _ := strings.Cut(key, "|")
	if strings.Contains(lifetime, ":") || strings.Contains(lifetime, "|") {
		return Crypto{}, false // an MKI
	}
	b, err := base64.StdEncoding.DecodeString(key)
	if err != nil {
		if b, err = base64.RawStdEncoding.DecodeString(key); err != nil {
			return Crypto{}, false
		}
	}
	return Crypto{Tag: tag, Suite: f[1], Key: b}, true
}

// ChooseCrypto is the first of the offer's crypto lines whose suite is among
// suites, as an answerer picks (RFC 4568 section 7.1.1).
func (a Audio) ChooseCrypto(suites []string) (Crypto, bool) {
	for _, c := range a.Crypto {
		if slices.Contains(suites, c.Suite) {
			return c, true
		}
	}
	return Crypto{}, false
}

// NewSession is a call's session receiving RTP on addr, with a random
// session id (RFC 4566 section 5.2 suggests one that no other session of
// ours shares).
func NewSession(addr netip.AddrPort) Session {
	return Session{Addr: addr, ID: rand.Uint64N(1 << 62)}
}

func (s *Session) defaults() {
	if len(s.Codecs) == 0 {
		s.Codecs = []Codec{PCMU, PCMA}
	}
	if s.EventPT == 0 {
		s.EventPT = DefaultEventPT
	}
	if s.Direction == "" {
		s.Direction = SendRecv
	}
}

// Audio is the audio stream a side describes: parsed from the far end's
// SDP.
type Audio struct {
	Addr      netip.AddrPort // where it receives RTP; invalid when it is on hold the RFC 2543 way (c=0.0.0.0)
	RTCP      netip.AddrPort // where it receives RTCP: a=rtcp (RFC 3605), else the RTP port + 1
	Codecs    []Codec        // the G.711 codecs it lists, in its order; others are left out
	EventPT   uint8          // telephone-event at 8 kHz; 0 when absent
	Direction Direction
	Ptime     int // ms; DefaultPtime when absent
	// Secure is an SRTP profile (RTP/SAVP, RTP/SAVPF); Crypto the usable
	// a=crypto lines, in the order given. Crypto lines on RTP/AVP are a
	// best-effort offer: SRTP if the answer has a key too, else plain RTP.
	Secure bool
	Crypto []Crypto
	// Feedback is the profile with RTCP feedback (RTP/AVPF, RTP/SAVPF, RFC
	// 4585), which Linphone offers when it is set to. An answer keeps the
	// offer's profile; Vox sends no feedback messages, which the profile
	// allows.
	Feedback bool
	// Streams are all the m= lines of the description, in order, and Index
	// the audio's among them: an answer has as many, in the same order
	// (RFC 3264 section 6), the others refused with port 0.
	Streams []Stream
	Index   int
	// formats and names are the stream's payload types and their names,
	// kept as parsed for an error that names them (noCodec).
	formats []string
	names   map[uint8]string
}

// Stream is what an answer repeats of an m= line it refuses: the media, the
// transport protocol and a format.
type Stream struct {
	Media  string
	Protos []string
	Format string
}

// Media is the outcome of offer/answer: what to set on an rtp.Endpoint.
type Media struct {
	Remote, RemoteRTCP netip.AddrPort
	Codec              Codec
	EventPT            uint8     // 0: no telephone-event, send digits in band
	Direction          Direction // ours: whether we may send and should receive
	// Crypto is the far end's, with the key it sends with, on an SRTP
	// stream; nil on plain RTP.
	Crypto *Crypto
}

// Offer is our SDP offer.
func (s Session) Offer() ([]byte, error) {
	s.defaults()
	return s.marshal(s.Codecs, s.eventPT(), s.Direction, nil, 0)
}

func (s Session) eventPT() uint8 {
	if s.NoEvents {
		return 0
	}
	return s.EventPT
}

// Answer answers the far end's offer (RFC 3264 §6): the first codec of the
// offer that we support (the offerer's preference), telephone-event with the
// offer's payload type if both sides have it, and the direction both sides
// allow — an offer of sendonly (hold) is answered recvonly.
//
// A session with Crypto answers only an SRTP offer that has a line of its
// suite, with its key under that line's tag (on RTP/AVP too, with
// KeysOnAVP); one without answers only plain RTP: Vox does not switch a
// call between the two.
func (s Session) Answer(offer Audio) ([]byte, Media, error) {
	s.defaults()
	var theirs *Crypto
	switch {
	case s.KeysOnAVP:
		if s.Crypto == nil || offer.Secure {
			return nil, Media{}, ErrNoCrypto
		}
	case offer.Secure != (s.Crypto != nil):
		return nil, Media{}, ErrNoCrypto
	}
	if s.Crypto != nil {
		c, ok := offer.ChooseCrypto([]string{s.Crypto.Suite})
		if !ok {
			return nil, Media{}, ErrNoCrypto
		}
		theirs = &c
		ours := *s.Crypto
		ours.Tag = c.Tag
		s.Crypto = &ours
	}
	var chosen *Codec
	for _, c := range offer.Codecs {
		if slices.ContainsFunc(s.Codecs, func(o Codec) bool { return strings.EqualFold(o.Name, c.Name) }) {
			chosen = &c
			break
		}
	}
	if chosen == nil {
		return nil, Media{}, s.noCodec(offer)
	}
	ev := offer.EventPT
	if s.NoEvents {
		ev = 0
	}
	dir := direction(s.Direction.Sends() && offer.Direction.Receives(), s.Direction.Receives() && offer.Direction.Sends())
	s.Feedback = offer.Feedback
	b, err := s.marshal([]Codec{*chosen}, ev, dir, offer.Streams, offer.Index)
	if err != nil {
		return nil, Media{}, err
	}
	return b, Media{Remote: offer.Addr, RemoteRTCP: offer.RTCP, Codec: *chosen, EventPT: ev, Direction: dir, Crypto: theirs}, nil
}

// Negotiate is the offerer's side once the answer arrives: the answer's
// first codec that we offered, its telephone-event payload type, and our
// direction as the answer leaves it.
//
// An answer to an SRTP offer must be SRTP under the offer's tag; Media.Crypto
// then has its key.
func (s Session) Negotiate(answer Audio) (Media, error) {
	s.defaults()
	var theirs *Crypto
	if answer.Secure != (s.Crypto != nil && !s.KeysOnAVP) {
		return Media{}, ErrNoCrypto
	}
	if s.Crypto != nil {
		i := slices.IndexFunc(answer.Crypto, func(c Crypto) bool { return c.Tag == s.Crypto.Tag && c.Suite == s.Crypto.Suite })
		if i < 0 {
			return Media{}, ErrNoCrypto
		}
		theirs = &answer.Crypto[i]
	}
	for _, c := range answer.Codecs {
		if !slices.ContainsFunc(s.Codecs, func(o Codec) bool { return strings.EqualFold(o.Name, c.Name) }) {
			continue
		}
		ev := answer.EventPT
		if s.NoEvents {
			ev = 0
		}
		dir := direction(s.Direction.Sends() && answer.Direction.Receives(), s.Direction.Receives() && answer.Direction.Sends())
		return Media{Remote: answer.Addr, RemoteRTCP: answer.RTCP, Codec: c, EventPT: ev, Direction: dir, Crypto: theirs}, nil
	}
	return Media{}, s.noCodec(answer)
}

// noCodec is ErrNoCodec naming both sides' formats, for the Warning of a
// 488 and the log: a phone set to Opus or G.729 alone is a common mistake,
// and the bare error left its user guessing which side lacked what.
func (s Session) noCodec(theirs Audio) error {
	ours := make([]string, len(s.Codecs))
	for i, c := range s.Codecs {
		ours[i] = c.Name + "/" + strconv.Itoa(c.Rate)
	}
	var others []string
	for _, f := range theirs.formats {
		n, err := strconv.ParseUint(f, 10, 7)
		if err != nil {
			continue
		}
		enc, _, _ := strings.Cut(theirs.names[uint8(n)], "/")
		switch {
		case enc == "":
			others = append(others, "payload type "+f)
		case !strings.EqualFold(enc, eventName):
			others = append(others, theirs.names[uint8(n)])
		}
	}
	offered := "no format"
	if len(others) > 0 {
		offered = strings.Join(others, ", ")
	}
	return fmt.Errorf("%w: they have %s; vox has %s", ErrNoCodec, offered, strings.Join(ours, ", "))
}

// marshal describes our audio stream; in an answer, at index among the
// offer's streams, which are refused.
func (s Session) marshal(codecs []Codec, eventPT uint8, dir Direction, streams []Stream, index int) ([]byte, error) {
	addr := s.Addr.Addr().Unmap()
	if !addr.IsValid() {
		return nil, fmt.Errorf("%w: %s", ErrAddress, s.Addr)
	}
	addrType := "IP4"
	if addr.Is6() {
		addrType = "IP6"
	}
	m := &psdp.MediaDescription{
		MediaName: psdp.MediaName{Media: "audio", Port: psdp.RangedPort{Value: int(s.Addr.Port())}, Protos: []string{"RTP", "AVP"}},
	}
	if s.Crypto != nil {
		if !s.KeysOnAVP {
			m.MediaName.Protos[1] = "SAVP"
		}
		m.Attributes = append(m.Attributes, s.Crypto.attribute())
	}
	if s.Feedback {
		m.MediaName.Protos[1] += "F"
	}
	for _, c := range codecs {
		m.MediaName.Formats = append(m.MediaName.Formats, strconv.Itoa(int(c.PT)))
		m.Attributes = append(m.Attributes, psdp.NewAttribute("rtpmap", fmt.Sprintf("%d %s/%d", c.PT, c.Name, c.Rate)))
	}
	if eventPT != 0 {
		pt := strconv.Itoa(int(eventPT))
		m.MediaName.Formats = append(m.MediaName.Formats, pt)
		m.Attributes = append(m.Attributes,
			psdp.NewAttribute("rtpmap", pt+" "+eventName+"/8000"),
			psdp.NewAttribute("fmtp", pt+" 0-16"))
	}
	m.Attributes = append(m.Attributes,
		psdp.NewAttribute("ptime", strconv.Itoa(DefaultPtime)),
		psdp.NewPropertyAttribute(string(dir)))
	d := &psdp.SessionDescription{
		Origin: psdp.Origin{Username: "vox", SessionID: s.ID, SessionVersion: s.Version,
			NetworkType: "IN", AddressType: addrType, UnicastAddress: addr.String()},
		SessionName:           "vox",
		ConnectionInformation: &psdp.ConnectionInformation{NetworkType: "IN", AddressType: addrType, Address: &psdp.Address{Address: addr.String()}},
		TimeDescriptions:      []psdp.TimeDescription{{}},
		MediaDescriptions:     []*psdp.MediaDescription{m},
	}
	if len(streams) > 1 {
		d.MediaDescriptions = make([]*psdp.MediaDescription, len(streams))
		for i, st := range streams {
			d.MediaDescriptions[i] = &psdp.MediaDescription{
				MediaName: psdp.MediaName{Media: st.Media, Port: psdp.RangedPort{Value: 0}, Protos: st.Protos, Formats: []string{st.Format}},
			}
		}
		d.MediaDescriptions[index] = m
	}
	return d.Marshal()
}

// Parse reads the first audio stream of a session description.
func Parse(b []byte) (Audio, error) {
	b, foreign := standIns(b)
	var d psdp.SessionDescription
	if err := d.Unmarshal(b); err != nil {
		return Audio{}, fmt.Errorf("sdp: %w", err)
	}
	var m *psdp.MediaDescription
	index := 0
	streams := make([]Stream, len(d.MediaDescriptions))
	for i, md := range d.MediaDescriptions {
		streams[i] = Stream{Media: md.MediaName.Media, Protos: md.MediaName.Protos, Format: "0"}
		if len(md.MediaName.Formats) > 0 {
			streams[i].Format = md.MediaName.Formats[0]
		}
		if st, ok := foreign[i]; ok {
			streams[i] = st
		} else if m == nil && md.MediaName.Media == "audio" {
			m, index = md, i
		}
	}
	if m == nil {
		return Audio{}, ErrNoAudio
	}
	if m.MediaName.Port.Value == 0 {
		return Audio{}, ErrRejected
	}
	conn := m.ConnectionInformation
	if conn == nil {
		conn = d.ConnectionInformation
	}
	if conn == nil || conn.Address == nil {
		return Audio{}, fmt.Errorf("%w: none", ErrAddress)
	}
	ip, err := netip.ParseAddr(strings.TrimSpace(strings.SplitN(conn.Address.Address, "/", 2)[0]))
	if err != nil {
		return Audio{}, fmt.Errorf("%w: %q", ErrAddress, conn.Address.Address)
	}
	port := uint16(m.MediaName.Port.Value)
	protos := m.MediaName.Protos
	a := Audio{
		Ptime: DefaultPtime, Direction: SendRecv, Streams: streams, Index: index,
		Secure:   slices.Contains(protos, "SAVP") || slices.Contains(protos, "SAVPF"),
		Feedback: slices.Contains(protos, "AVPF") || slices.Contains(protos, "SAVPF"),
	}
	if !ip.IsUnspecified() {
		a.Addr = netip.AddrPortFrom(ip, port)
		a.RTCP = netip.AddrPortFrom(ip, port+1)
	}

	// The static payload types of RFC 3551 section 6 that phones still offer
	// without an rtpmap.
	names := map[uint8]string{0: "PCMU/8000", 3: "GSM/8000", 4: "G723/8000", 8: "PCMA/8000", 9: "G722/8000", 18: "G729/8000"}
	for _, at := range append(slices.Clone(d.Attributes), m.Attributes...) {
		switch at.Key {
		case "rtpmap":
			pt, name, ok := strings.Cut(at.Value, " ")
			if n, err := strconv.ParseUint(pt, 10, 7); ok && err == nil {
				names[uint8(n)] = strings.TrimSpace(name)
			}
		case "ptime":
			if n, err := strconv.Atoi(strings.TrimSpace(at.Value)); err == nil && n > 0 {
				a.Ptime = n
			}
		case "rtcp":
			a.RTCP = rtcpAttr(at.Value, a.RTCP)
		case "crypto":
			if c, ok := parseCrypto(at.Value); ok {
				a.Crypto = append(a.Crypto, c)
			}
		case string(SendRecv), string(SendOnly), string(RecvOnly), string(Inactive):
			a.Direction = Direction(at.Key)
		}
	}
	a.formats, a.names = m.MediaName.Formats, names
	for _, f := range m.MediaName.Formats {
		n, err := strconv.ParseUint(f, 10, 7)
		if err != nil {
			continue
		}
		pt := uint8(n)
		enc, rate, _ := strings.Cut(names[pt], "/")
		rate, _, _ = strings.Cut(rate, "/") // channels
		switch {
		case strings.EqualFold(enc, "PCMU") && rate == "8000":
			a.Codecs = append(a.Codecs, Codec{PT: pt, Name: PCMU.Name, Rate: 8000})
		case strings.EqualFold(enc, "PCMA") && rate == "8000":
			a.Codecs = append(a.Codecs, Codec{PT: pt, Name: PCMA.Name, Rate: 8000})
		case strings.EqualFold(enc, eventName) && rate == "8000" && a.EventPT == 0:
			a.EventPT = pt
		}
	}
	if !a.Addr.IsValid() {
		// RFC 3264 §8.4: c=0.0.0.0 is the old way to hold; the far end
		// wants no media.
		a.Direction = direction(a.Direction.Sends(), false)
	}
	return a, nil
}

// pion's parser takes only the media and transports registered when it was
// written, though RFC 4566 lets both grow. A fax gateway's T.38 stream
// (m=image 6000 udptl t38) fails it, and with it the whole offer, whose
// audio Vox could have taken.
var (
	pionMedia  = []string{"audio", "video", "text", "application", "message"}
	pionProtos = []string{"UDP", "RTP", "AVP", "SAVP", "SAVPF", "TLS", "DTLS", "SCTP", "AVPF", "TCP", "MSRP", "BFCP", "UDT", "IX", "MRCPv2", "FEC"}
)

// standIns replaces the m= lines pion cannot parse with stand-ins it can,
// which are not audio, and returns the streams they stood for, by index. It
// runs on every offer and answer, so it copies nothing unless one needs
// standing in for, which hardly any does.
func standIns(b []byte) ([]byte, map[int]Stream) {
	var foreign map[int]Stream
	var out []byte
	index, done := -1, 0 // done: how much of b is in out
	for start := 0; start < len(b); {
		end := len(b)
		if i := bytes.IndexByte(b[start:], '\n'); i >= 0 {
			end = start + i
		}
		line := b[start:end]
		lineStart := start
		start = end + 1
		rest, ok := bytes.CutPrefix(line, []byte("m="))
		if !ok {
			continue
		}
		index++
		if pionKnows(rest) {
			continue
		}
		f := strings.Fields(string(rest))
		if len(f) < 3 {
			continue // pion says what is wrong with it
		}
		protos := strings.Split(f[2], "/")
		if foreign == nil {
			foreign = map[int]Stream{}
		}
		st := Stream{Media: f[0], Protos: protos, Format: "0"}
		if len(f) > 3 {
			st.Format = f[3]
		}
		foreign[index] = st
		out = append(out, b[done:lineStart]...)
		out = append(out, "m=application "+f[1]+" UDP "+st.Format...)
		if bytes.HasSuffix(line, []byte("\r")) {
			out = append(out, '\r')
		}
		done = end
	}
	if foreign == nil {
		return b, nil
	}
	return append(out, b[done:]...), foreign
}

// pionKnows tells whether pion parses the media and transport of an m= line
// (after "m="): one it does not, or a line too short to tell, is looked at
// closer.
func pionKnows(line []byte) bool {
	media, rest, _ := bytes.Cut(bytes.TrimLeft(line, " "), []byte(" "))
	_, rest, _ = bytes.Cut(bytes.TrimLeft(rest, " "), []byte(" ")) // the port
	proto, _, _ := bytes.Cut(bytes.TrimLeft(rest, " "), []byte(" "))
	if len(proto) == 0 || !slices.Contains(pionMedia, string(media)) {
		return false
	}
	for p := range bytes.SplitSeq(bytes.TrimRight(proto, "\r"), []byte("/")) {
		if !slices.Contains(pionProtos, string(p)) {
			return false
		}
	}
	return true
}

// rtcpAttr reads a=rtcp:port [IN IP4 addr] (RFC 3605).
func rtcpAttr(v string, def netip.AddrPort) netip.AddrPort {
	f := strings.Fields(v)
	if len(f) == 0 {
		return def
	}
	port, err := strconv.ParseUint(f[0], 10, 16)
	if err != nil {
		return def
	}
	ip := def.Addr()
	if len(f) == 4 {
		if a, err := netip.ParseAddr(f[3]); err == nil {
			ip = a
		}
	}
	if !ip.IsValid() {
		return def
	}
	return netip.AddrPortFrom(ip, uint16(port))
}
