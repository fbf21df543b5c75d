package mailclient

import (
	"fmt"

	"github.com/imperalcloud/exthost/ctx"
	"github.com/imperalcloud/exthost/runtime"
	"github.com/imperalcloud/exthost/store"
)

// ── Store collection: connected accounts ────────────────────────────────────
//
// What must outlive any cache entry lives in the store: the accounts a user
// has connected, one document each, the document id being the account id.

// Account is one connected mail account, as stored in "mail_accounts".
type Account struct {
	Email       string `json:"email"`
	Provider    string `json:"provider"`
	DisplayName string `json:"display_name,omitempty"`
	// Primary marks the user's main account.
	Primary bool `json:"primary"`
}

var accounts = runtime.StoreCollection[Account](ext, "mail_accounts")

// ConnectAccountParams are connect_account's parameters.
type ConnectAccountParams struct {
	AccountID   string `json:"account_id" jsonschema:"required,minLength=1,maxLength=128,pattern=^[A-Za-z0-9._:-]+$" jsonschema_description:"Id for the account, e.g. work or personal."`
	Email       string `json:"email" jsonschema:"required" jsonschema_description:"Address of the account."`
	Provider    string `json:"provider" jsonschema_description:"Mail provider: imap, gmail or outlook."`
	DisplayName string `json:"display_name" jsonschema_description:"Name shown for the account."`
	Primary     bool   `json:"primary" jsonschema_description:"Make it the primary account."`
}

// AccountData is one account as functions return it.
type AccountData struct {
	AccountID string `json:"account_id"`
	Account
	Etag string `json:"etag"`
}

// ConnectAccount is connect_account: it stores (or replaces) an account.
var ConnectAccount = runtime.AddFunction(chat, runtime.Function[ConnectAccountParams, AccountData]{
	Name:        "connect_account",
	Description: "Connect a mail account, or update one already connected.",
	ActionType:  runtime.Write,
	Effects:     []string{"__panel__sidebar"},
	Defaults:    ConnectAccountParams{Provider: "imap"},
	Handler:     connectAccount,
})

func connectAccount(c *ctx.Call, p ConnectAccountParams) (runtime.Result, error) {
	doc, err := accounts.Update(c, p.AccountID, Account{Email: p.Email, Provider: p.Provider, DisplayName: p.DisplayName, Primary: p.Primary}, "")
	if err != nil {
		return runtime.Result{}, err
	}
	return runtime.Success(AccountData{AccountID: doc.ID, Account: doc.Data, Etag: doc.Etag},
		fmt.Sprintf("Account %s connected.", doc.Data.Email)), nil
}

// ListAccountsParams are list_accounts' parameters.
type ListAccountsParams struct {
	Provider string `json:"provider" jsonschema_description:"Only accounts of this provider."`
}

// AccountsData is list_accounts' result data.
type AccountsData struct {
	Accounts []AccountData `json:"accounts"`
}

// ListAccounts is list_accounts: the user's connected accounts, by id.
var ListAccounts = runtime.AddFunction(chat, runtime.Function[ListAccountsParams, AccountsData]{
	Name:        "list_accounts",
	Description: "List the connected mail accounts.",
	ActionType:  runtime.Read,
	Handler:     listAccounts,
})

func listAccounts(c *ctx.Call, p ListAccountsParams) (runtime.Result, error) {
	q := store.Query{Limit: 1000}
	if p.Provider != "" {
		q.Where = map[string]any{"provider": p.Provider}
	}
	page, err := accounts.Query(c, q)
	if err != nil {
		return runtime.Result{}, err
	}
	out := AccountsData{Accounts: make([]AccountData, 0, len(page.Documents))}
	for _, d := range page.Documents {
		out.Accounts = append(out.Accounts, AccountData{AccountID: d.ID, Account: d.Data, Etag: d.Etag})
	}
	return runtime.Success(out, fmt.Sprintf("%d account(s).", len(out.Accounts))), nil
}
