package server_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/labtrust/labtrust/breach"
	"github.com/labtrust/labtrust/incident"
	"github.com/labtrust/labtrust/server"
	"github.com/labtrust/labtrust/store/storetest"
)

func incidentsAPI(t testing.TB, e *env) *server.Incidents {
	svc, err := incident.New(e.db, e.keys, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	laws, err := breach.BuiltinLaws()
	if err != nil {
		t.Fatal(err)
	}
	return &server.Incidents{Service: svc, Laws: laws}
}

func TestIncidentsAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn, 0)
		if r := e.request(t, "GET", "/api/v1/incidents", nil, nil); r.status != 401 {
			t.Fatalf("without a token: %d", r.status)
		}
		if r := e.api(t, "POST", "/api/v1/incidents", "application/json", []byte(`{"title":"x","playbook":"nope"}`)); r.status != 400 || !strings.Contains(string(r.body), "no playbook") {
			t.Fatalf("unknown playbook: %d %s", r.status, r.body)
		}
		if r := e.api(t, "POST", "/api/v1/incidents", "application/json", []byte(`{"title":"x","colour":"red"}`)); r.status != 400 {
			t.Fatalf("unknown field: %d", r.status)
		}
		day := time.Now().UTC().AddDate(0, 0, -3).Format(time.DateOnly)
		r := e.api(t, "POST", "/api/v1/incidents", "application/json", []byte(fmt.Sprintf(`{"title":"Ransomware on LIS-2","severity":"critical","playbook":"ransomware","alerts":[4],"discovered":%q,"by":"soar"}`, day)))
		var got struct {
			ID        int64   `json:"id"`
			OpenTasks int     `json:"openTasks"`
			Alerts    []int64 `json:"alerts"`
			Status    string  `json:"status"`
		}
		if err := json.Unmarshal(r.body, &got); err != nil || r.status != 201 || got.OpenTasks < 10 || got.Alerts[0] != 4 || got.Status != "open" {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		r = e.api(t, "GET", "/api/v1/incidents", "", nil)
		if r.status != 200 || !strings.Contains(string(r.body), "Ransomware on LIS-2") {
			t.Fatalf("list: %d %s", r.status, r.body)
		}
		// No scope yet: the obligations cannot be computed.
		if r := e.api(t, "GET", fmt.Sprintf("/api/v1/incidents/%d/obligations", got.ID), "", nil); r.status != 409 || !strings.Contains(string(r.body), "scope") {
			t.Fatalf("obligations without a scope: %d %s", r.status, r.body)
		}
		if r := e.api(t, "GET", "/api/v1/incidents/99", "", nil); r.status != 404 {
			t.Fatalf("missing: %d", r.status)
		}
	})
}
