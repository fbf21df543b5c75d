// Command host is the extension runtime host with the extensions of this
// repository compiled in. Its commands are hostcmd's:
//
//	host serve [--config FILE]
//	host call APP FUNCTION --user ID [--params JSON] [--tenant T] [--config FILE]
//	host manifest APP
//	host tools [--format openai]
//	host version
//
// A team with its own extension module builds its own host the same way:
// a blank import per extension, and hostcmd.Main.
package main

import (
	_ "github.com/imperalcloud/exthost/extensions/mailclient"

	"github.com/imperalcloud/exthost/hostcmd"
)

func main() { hostcmd.Main() }
