package fastrpc

import (
	"bytes"
	"testing"
)

var benchEnvelope = []byte(`{"v": 1, "corr_id": "0123456789abcdef0123456789abcdef", "user_id": "u-1", "tenant_id": "default",
 "agency_id": null, "email": "u@example.com", "role": "user", "scopes": ["mail.read"], "attributes": {},
 "app_id": "mail-client", "function": "list_inbox", "params": {"account_id": "work"},
 "reply_list": "imperal:rpc:reply:0123456789abcdef0123456789abcdef", "deadline_ns": 1900000000000000000,
 "submitted_at_ns": 1800000000000000000}`)

func BenchmarkDecodeRequest(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeRequest(benchEnvelope); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeReply(b *testing.B) {
	result := append([]byte(`{"status":"success","summary":"20 message(s) in INBOX.","data":{"messages":[`),
		bytes.Repeat([]byte(`{"id":"m-1","from":"a@example.com","subject":"Hello there","snippet":"Lorem ipsum dolor sit amet, consectetur","unread":true},`), 40)...)
	result = append(result[:len(result)-1], `],"total":40,"has_more":false}}`...)
	b.ReportAllocs()
	for b.Loop() {
		r := Reply{V: 1, CorrID: "0123456789abcdef0123456789abcdef", Status: StatusSuccess, Result: result, WorkerID: "w"}
		if _, err := r.encode(); err != nil {
			b.Fatal(err)
		}
	}
}
