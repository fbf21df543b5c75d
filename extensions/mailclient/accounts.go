package mailclient

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/imperalcloud/exthost/ctx"
	"github.com/imperalcloud/exthost/httpclient"
	"github.com/imperalcloud/exthost/runtime"
	"github.com/imperalcloud/exthost/store"
	"go.uber.org/zap"
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
	// Active marks the account functions use when a call names none;
	// switch_account keeps exactly one active.
	Active bool `json:"active"`
}

var accounts = runtime.StoreCollection[Account](ext, "mail_accounts")

// maxAccounts bounds the accounts a user's calls look at.
const maxAccounts = 100

// accountEffects are declared by the account writes.
var accountEffects = []string{"__panel__inbox", "__panel__accounts", "update:account"}

// ConnectAccountParams are connect_account's parameters.
type ConnectAccountParams struct {
	AccountID   string `json:"account_id" jsonschema:"required,minLength=1,maxLength=128,pattern=^[A-Za-z0-9._:-]+$" jsonschema_description:"Id for the account, e.g. work or personal."`
	Email       string `json:"email" jsonschema:"required" jsonschema_description:"Address of the account."`
	Provider    string `json:"provider" jsonschema_description:"Mail provider: imap, gmail or outlook."`
	DisplayName string `json:"display_name" jsonschema_description:"Name shown for the account."`
	Active      bool   `json:"active" jsonschema_description:"Make it the active account."`
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
	Effects:     accountEffects,
	Event:       "account.connected",
	Defaults:    ConnectAccountParams{Provider: "imap"},
	Handler:     connectAccount,
})

func connectAccount(c *ctx.Call, p ConnectAccountParams) (runtime.Result, error) {
	doc, err := accounts.Update(c, p.AccountID, Account{Email: p.Email, Provider: p.Provider, DisplayName: p.DisplayName, Active: p.Active}, "")
	if err != nil {
		return runtime.Result{}, err
	}
	if p.Active {
		all, err := storedAccounts(c)
		if err == nil {
			err = activate(c, all, doc.ID)
		}
		if err != nil {
			return runtime.Result{}, err
		}
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

// ── Account resolution ──────────────────────────────────────────────────────

// userAccounts returns the user's accounts, by id. A user with none stored
// gets those the mail-service knows (DESIGN §7), so any user id works with
// no set-up; two first calls at once may both seed, and the second's
// creates then conflict harmlessly.
func userAccounts(c *ctx.Call) ([]store.Document[Account], error) {
	docs, err := storedAccounts(c)
	if err != nil || len(docs) > 0 {
		return docs, err
	}
	var known struct {
		Accounts []struct {
			AccountID   string `json:"account_id"`
			Email       string `json:"email"`
			Provider    string `json:"provider"`
			DisplayName string `json:"display_name"`
			Active      bool   `json:"active"`
		} `json:"accounts"`
	}
	if err := mailGet(c, "/v1/accounts", httpclient.Params{"user_id": c.UserID()}, &known); err != nil {
		return nil, err
	}
	for _, a := range known.Accounts[:min(len(known.Accounts), maxAccounts)] {
		_, err := accounts.CreateWithID(c, a.AccountID, Account{Email: a.Email, Provider: a.Provider, DisplayName: a.DisplayName, Active: a.Active})
		var conflict *store.ConflictError
		if err != nil && !errors.As(err, &conflict) {
			return nil, err
		}
	}
	return storedAccounts(c)
}

func storedAccounts(c *ctx.Call) ([]store.Document[Account], error) {
	page, err := accounts.Query(c, store.Query{Limit: maxAccounts})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(page.Documents, func(a, b store.Document[Account]) int { return strings.Compare(a.ID, b.ID) })
	return page.Documents, nil
}

// resolveAccount returns the account ref names, by id or by address (any
// case), or the active one when ref is empty (the first, when none is
// marked active), with all the user's accounts.
func resolveAccount(c *ctx.Call, ref string) (store.Document[Account], []store.Document[Account], error) {
	all, err := userAccounts(c)
	if err != nil {
		return store.Document[Account]{}, nil, err
	}
	if len(all) == 0 {
		return store.Document[Account]{}, nil, &runtime.CodedError{Code: codeNotConnected, Message: "No email account connected. Connect one first."}
	}
	if ref == "" {
		for _, d := range all {
			if d.Data.Active {
				return d, all, nil
			}
		}
		return all[0], all, nil
	}
	for _, d := range all {
		if d.ID == ref || strings.EqualFold(d.Data.Email, ref) {
			return d, all, nil
		}
	}
	ids := make([]string, len(all))
	for i, d := range all {
		ids[i] = d.ID
	}
	return store.Document[Account]{}, nil, &runtime.CodedError{Code: codeAccountNotFound,
		Message: "Account not found. Available: " + strings.Join(ids, ", ") + "."}
}

// activate marks the account id active and every other of all, the
// user's accounts as just read, inactive; each write is conditional on the
// etag read, so a concurrent change is a conflict rather than lost.
func activate(c *ctx.Call, all []store.Document[Account], id string) error {
	for _, d := range all {
		if want := d.ID == id; d.Data.Active != want {
			d.Data.Active = want
			if _, err := accounts.Update(c, d.ID, d.Data, d.Etag); err != nil {
				return err
			}
		}
	}
	return nil
}

// ── Chat function: status ───────────────────────────────────────────────────

// StatusParams are status's parameters: none.
type StatusParams struct{}

// AccountStatus is one account in status's answer.
type AccountStatus struct {
	AccountID     string `json:"account_id"`
	Email         string `json:"email"`
	Provider      string `json:"provider"`
	ProviderLabel string `json:"provider_label"`
	DisplayName   string `json:"display_name"`
	Active        bool   `json:"active"`
	// UnreadCount is the inbox's unread messages; null when the
	// mail-service could not say.
	UnreadCount *int `json:"unread_count"`
}

// StatusData is status's result data.
type StatusData struct {
	Connected bool            `json:"connected"`
	Total     int             `json:"total"`
	Accounts  []AccountStatus `json:"accounts"`
}

// Status is status: the connected accounts and their unread counts.
var Status = runtime.AddFunction(chat, runtime.Function[StatusParams, StatusData]{
	Name:        "status",
	Description: "Show the connected mail accounts, which one is active, and each inbox's unread count.",
	ActionType:  runtime.Read,
	Handler:     status,
})

func status(c *ctx.Call, _ StatusParams) (runtime.Result, error) {
	all, err := userAccounts(c)
	if err != nil {
		return runtime.Result{}, err
	}
	out := StatusData{Connected: len(all) > 0, Total: len(all), Accounts: make([]AccountStatus, 0, len(all))}
	for _, d := range all {
		s := AccountStatus{AccountID: d.ID, Email: d.Data.Email, Provider: d.Data.Provider,
			ProviderLabel: providerLabel(d.Data.Provider), DisplayName: d.Data.DisplayName, Active: d.Data.Active}
		// One account's count failing does not hide the others.
		if unread, err := folderUnread(c, d.ID, folderInbox); err == nil {
			s.UnreadCount = &unread.UnreadCount
		} else {
			c.Log().Info("unread count unavailable", zap.Error(err))
		}
		out.Accounts = append(out.Accounts, s)
	}
	if len(all) == 0 {
		return runtime.Success(out, "No accounts connected."), nil
	}
	return runtime.Success(out, fmt.Sprintf("%d account(s) connected.", len(all))), nil
}

// providerLabel names a provider as the real extension shows it.
func providerLabel(provider string) string {
	switch provider {
	case "oauth", "gmail", "google":
		return "Google"
	case "microsoft", "outlook":
		return "Microsoft"
	case "yahoo":
		return "Yahoo / AOL"
	}
	return "IMAP"
}

// ── Chat function: switch_account ───────────────────────────────────────────

// SwitchAccountParams are switch_account's parameters.
type SwitchAccountParams struct {
	Account string `json:"account" jsonschema:"required,minLength=1" jsonschema_description:"Account email or ID to make active."`
}

// SwitchedData is switch_account's result data.
type SwitchedData struct {
	Switched      bool   `json:"switched"`
	ActiveAccount string `json:"active_account"`
	Email         string `json:"email"`
}

// SwitchAccount is switch_account: it makes another account the active one.
var SwitchAccount = runtime.AddFunction(chat, runtime.Function[SwitchAccountParams, SwitchedData]{
	Name:        "switch_account",
	Description: "Make another connected account the active one; later calls that name no account use it.",
	ActionType:  runtime.Write,
	Effects:     accountEffects,
	Event:       "account.switched",
	Handler:     switchAccount,
})

func switchAccount(c *ctx.Call, p SwitchAccountParams) (runtime.Result, error) {
	target, all, err := resolveAccount(c, p.Account)
	if err != nil {
		return runtime.Result{}, err
	}
	var previous string
	for _, d := range all {
		if d.Data.Active && d.ID != target.ID {
			previous = d.ID
		}
	}
	if err := activate(c, all, target.ID); err != nil {
		return runtime.Result{}, err
	}
	// The pages of the account left behind are what a panel showed a
	// moment ago; dropping them keeps a stale one from coming back after a
	// switch back (the real extension's 5.2.0 race).
	if previous != "" {
		forget(c, mailboxChange{account: previous, listings: systemFolders[:], counts: true})
	}
	return runtime.Success(SwitchedData{Switched: true, ActiveAccount: target.ID, Email: target.Data.Email},
		fmt.Sprintf("Switched to %s.", target.Data.Email)), nil
}
