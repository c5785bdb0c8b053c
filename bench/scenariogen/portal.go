package scenariogen

import (
	"context"
	"net/http"
	"strings"

	"vox/runtime"
)

// Portal answers the scenario's requests from memory, at once, as a fast portal
// would: settings for the dialled number, a CRM match for the caller, and "ok"
// for reports. It is safe for concurrent use.
type Portal struct{}

var jsonHeader = http.Header{"Content-Type": {"application/json"}}

var settingsBody = []byte(SettingsJSON())

const crmBody = `{"found":true,"entity":"CONTACT","id":4242,"responsible":"user102","responsibleOnline":true}`

func (Portal) Do(_ context.Context, req *runtime.HTTPRequest) (*runtime.HTTPResponse, error) {
	switch {
	case strings.HasPrefix(req.URL, SettingsURL):
		return &runtime.HTTPResponse{Code: http.StatusOK, Header: jsonHeader, Body: settingsBody}, nil
	case strings.HasPrefix(req.URL, CRMURL):
		return &runtime.HTTPResponse{Code: http.StatusOK, Header: jsonHeader, Body: []byte(crmBody)}, nil
	case strings.HasPrefix(req.URL, EventsURL):
		return &runtime.HTTPResponse{Code: http.StatusOK, Header: jsonHeader, Body: []byte(`{"result":"ok"}`)}, nil
	}
	return &runtime.HTTPResponse{Code: http.StatusNotFound, Header: jsonHeader, Body: []byte(`{"error":"not found"}`)}, nil
}
