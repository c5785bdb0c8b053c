package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"vox/sip"
)

// Until the controller brings tenants and their SIP users, vox serve keeps
// its SIP users in DATA/sip-users.json, made at the first start with two
// demo users of the demo account, so that a newcomer can register a
// softphone. The file holds digest HA1s, not passwords: the passwords are
// printed once, when they are made.
const (
	sipUsersFile = "sip-users.json"
	// sipRealm is the realm of the digest challenges and of the HA1s in
	// the file.
	sipRealm    = "vox"
	demoAccount = "demo"
)

// demoSIPUsers are made at the first start; phone67 is the phone the seed's
// scenario rings (S22).
var demoSIPUsers = []string{"phone67", "phone68"}

type sipUsersDoc struct {
	Realm string       `json:"realm"`
	Users []sipUserDoc `json:"users"`
}

type sipUserDoc struct {
	Account   string `json:"account"`
	Name      string `json:"name"`
	HA1MD5    string `json:"ha1_md5"`
	HA1SHA256 string `json:"ha1_sha256"`
	Disabled  bool   `json:"disabled,omitempty"`
}

// fileDirectory is a sip.Directory read from DATA/sip-users.json at start.
type fileDirectory struct {
	realm string
	users map[string]sip.User
}

func (d *fileDirectory) User(_ context.Context, realm, name string) (sip.User, error) {
	u, ok := d.users[name]
	if !ok || realm != d.realm {
		return sip.User{}, fmt.Errorf("%s: %w", name, sip.ErrUnknownUser)
	}
	return u, nil
}

// demoLogin is a demo user made now, with its password.
type demoLogin struct{ name, password string }

// openSIPUsers reads dir's SIP users, making the file with the demo users
// when there is none; made lists them with their passwords then.
func openSIPUsers(dir string) (d *fileDirectory, made []demoLogin, err error) {
	path := filepath.Join(dir, sipUsersFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		data, made, err = makeSIPUsers(path)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("SIP users: %w", err)
	}
	var doc sipUsersDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, nil, fmt.Errorf("SIP users: %s: %w", path, err)
	}
	if doc.Realm == "" {
		return nil, nil, fmt.Errorf("SIP users: %s has no realm", path)
	}
	d = &fileDirectory{realm: doc.Realm, users: make(map[string]sip.User, len(doc.Users))}
	for _, u := range doc.Users {
		d.users[u.Name] = sip.User{Account: u.Account, Name: u.Name, HA1MD5: u.HA1MD5, HA1SHA256: u.HA1SHA256, Disabled: u.Disabled}
	}
	return d, made, nil
}

func makeSIPUsers(path string) ([]byte, []demoLogin, error) {
	doc := sipUsersDoc{Realm: sipRealm}
	var made []demoLogin
	for _, name := range demoSIPUsers {
		password := rand.Text()[:16]
		u := sip.NewUser(demoAccount, name, sipRealm, password)
		doc.Users = append(doc.Users, sipUserDoc{Account: u.Account, Name: u.Name, HA1MD5: u.HA1MD5, HA1SHA256: u.HA1SHA256})
		made = append(made, demoLogin{name, password})
	}
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, nil, err
	}
	data = append(data, '\n')
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, nil, err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return nil, nil, err
	}
	return data, made, nil
}
