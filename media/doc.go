// Package media owns audio: reading audio files, and (as the media issue lands) RTP
// endpoints, codecs, players, recorders and the bridge between legs.
package media
