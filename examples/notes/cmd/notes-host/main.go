// Command notes-host is a host with the notes extension and the mail
// client compiled in: each is a blank import, and the rest is the host's.
package main

import (
	_ "example.com/notes/notes"
	_ "github.com/imperalcloud/exthost/extensions/mailclient"

	"github.com/imperalcloud/exthost/hostcmd"
)

func main() { hostcmd.Main() }
