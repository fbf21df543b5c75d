package mailservice

// The tables below are the raw material of every generated mailbox. They are
// read-only: the generator picks from them with the mailbox's own random
// source, so changing an entry (or the order of entries) changes every
// mailbox — treat them as part of the fixtures' identity.

// senders are the people and services mail arrives from.
var senders = [...]string{
	"Ada Lovelace <ada@analytical.example>",
	"Charles Babbage <charles@analytical.example>",
	"Grace Hopper <grace.hopper@navy.example>",
	"Alan Turing <alan@bletchley.example>",
	"Katherine Johnson <kjohnson@langley.example>",
	"Margaret Hamilton <margaret@apollo.example>",
	"Linus Torvalds <linus@kernel.example>",
	"Barbara Liskov <liskov@clu.example>",
	"Donald Knuth <knuth@taocp.example>",
	"Frances Allen <fran.allen@compilers.example>",
	"Edsger Dijkstra <ewd@eindhoven.example>",
	"Radia Perlman <radia@spanning.example>",
	"Ken Thompson <ken@unix.example>",
	"Dennis Ritchie <dmr@unix.example>",
	"Hedy Lamarr <hedy@frequency.example>",
	"Tim Berners-Lee <timbl@w3.example>",
	"Annie Easley <annie@glenn.example>",
	"John McCarthy <jmc@lisp.example>",
	"Sophie Wilson <sophie@acorn.example>",
	"Rob Pike <r@plan9.example>",
	"Billing <billing@cloudhost.example.com>",
	"Acme Shipping <no-reply@shipping.acme.example.com>",
	"The Weekly Digest <newsletter@digest.example.org>",
	"Calendar <calendar-noreply@calendar.example.com>",
	"IT Helpdesk <helpdesk@corp.example.com>",
	"GitHub <notifications@github.example.com>",
	"Travel Desk <bookings@travel.example.net>",
	"HR Team <people@corp.example.com>",
	"Security Alerts <security@accounts.example.com>",
	"Payroll <payroll@corp.example.com>",
}

// spamSenders are the senders of the spam folder.
var spamSenders = [...]string{
	"Prize Department <winner@lucky-draw.example.biz>",
	"Dr. Finance <investments@quick-returns.example.info>",
	"Pharmacy Online <deals@cheap-meds.example.biz>",
	"Account Verification <verify@secure-login.example.xyz>",
	"Crypto Insider <alpha@moon-coins.example.io>",
	"Royal Estate <barrister@inheritance.example.ng>",
}

// template is a subject and a snippet that belong together. Placeholders
// {num}, {project}, {day}, {amount} and {city} are filled with the same
// values in both.
type template struct {
	subject, snippet string
}

// templates are the subjects and snippets of ordinary mail.
var templates = [...]template{
	{"Invoice #{num} for November", "Hi, please find attached invoice #{num} for {amount}. Payment is due within 30 days of receipt."},
	{"Your order #{num} has shipped", "Good news! Your package is on its way and should arrive by {day}. Track it with the link below."},
	{"Meeting notes: {project} sync", "Thanks all for joining. Action items: finalise the {project} timeline, review the budget, share the draft by {day}."},
	{"Re: {project} roadmap", "I think we can move the second milestone up a week if the design review goes well on {day}."},
	{"The Weekly Digest — issue {num}", "This week: a faster JSON parser, what's new in Go 1.26, and a long read on distributed caches."},
	{"Reminder: 1:1 on {day}", "Just a reminder that we have our 1:1 on {day} at 10:00. Let me know if you want to move it."},
	{"Receipt for your payment of {amount}", "We received your payment of {amount}. Your reference number is {num}. Thank you for your business."},
	{"Delivery attempted for parcel {num}", "We tried to deliver your parcel today but nobody was home. We will try again on {day}."},
	{"Quarterly report draft", "Attached is the first draft of the quarterly report. Numbers for {project} are still preliminary."},
	{"Lunch on {day}?", "Are you free for lunch on {day}? There is a new place near the office that I'd like to try."},
	{"Your flight to {city} is confirmed", "Booking reference {num}. Check-in opens 24 hours before departure. Have a great trip to {city}!"},
	{"Action required: password expires soon", "Your password expires in 7 days. Please update it before {day} to avoid losing access."},
	{"[{project}] Pull request #{num} approved", "Your pull request #{num} was approved and is ready to merge once the checks pass."},
	{"[{project}] Build failed on main", "The build for commit {num} failed: 2 tests failed in the integration suite. See the logs for details."},
	{"Offsite agenda for {city}", "Here's the draft agenda for the team offsite in {city}. Please add topics you'd like to cover."},
	{"Welcome to the {project} team!", "We're excited to have you on board. Your onboarding buddy will reach out on {day} to get you set up."},
	{"Expense report #{num} approved", "Your expense report #{num} for {amount} has been approved and will be paid with the next payroll."},
	{"Feedback on the {project} proposal", "I read through the proposal. Overall it's solid, but I have a few questions about the rollout plan."},
	{"Updated calendar invitation: {project} review", "The {project} review has been moved to {day} at 14:00. The video link is unchanged."},
	{"Your subscription renews on {day}", "Your annual plan renews on {day} for {amount}. No action is needed if you want to continue."},
	{"New sign-in from {city}", "We noticed a new sign-in to your account from {city}. If this was you, you can ignore this message."},
	{"Conference talk accepted", "Congratulations! Your talk on {project} was accepted. Speaker details will follow by {day}."},
	{"Can you review my doc?", "When you have a moment, could you review the {project} design doc? Comments by {day} would be great."},
	{"Payslip for November", "Your payslip for November is available. Net pay of {amount} will be transferred on {day}."},
	{"Holiday schedule", "A reminder that the office is closed on {day}. Please plan your deadlines around the holidays."},
	{"Server maintenance window", "Planned maintenance on {day} from 02:00 to 04:00 UTC. Services for {project} may be briefly unavailable."},
	{"Re: contract renewal", "We're happy to renew on the same terms. I've attached the updated contract, reference {num}, for signature."},
	{"Photos from the weekend", "Here are the photos from the trip to {city}! The sunset ones came out really well."},
	{"Your return has been received", "We received your return for order #{num}. A refund of {amount} will be issued within 5 business days."},
	{"Interview schedule for {day}", "Please find the interview schedule for {day}. The candidate has a strong background in {project}-like systems."},
	{"Budget approval needed", "The {project} budget of {amount} needs your approval before {day} so we can place the order."},
	{"Incident report #{num}", "Summary: elevated error rates on the {project} API for 14 minutes. Root cause and follow-ups are in the doc."},
	{"Book club: next pick", "Next month we're reading a history of computing. Meeting on {day}, snacks provided as always."},
	{"Your table is booked", "Your reservation for 4 on {day} at 19:30 is confirmed. Reference {num}. We look forward to seeing you."},
	{"Security alert: new API token", "A new API token was created for {project}. If you did not do this, revoke it immediately."},
	{"Product update: what's new in {project}", "This month we shipped dark mode, faster search, and a new export option. Read the full changelog."},
	{"Hotel confirmation — {city}", "Your stay in {city} is confirmed, confirmation number {num}. Check-in from 15:00 on {day}."},
	{"Re: quick question", "Yes, that works for me. Let's go with the second option and revisit on {day} if needed."},
	{"Team retro notes", "What went well: fewer incidents, faster reviews. To improve: clearer ownership of the {project} backlog."},
	{"Survey: how did we do?", "Thanks for contacting support about ticket {num}. Please take a minute to rate your experience."},
}

// spamTemplates are the subjects and snippets of the spam folder.
var spamTemplates = [...]template{
	{"You have WON {amount}!!!", "Congratulations, you were selected as our lucky winner. Claim your prize of {amount} before {day}."},
	{"Urgent: verify your account now", "Your account will be suspended in 24 hours unless you verify your details at the link below."},
	{"Exclusive investment opportunity", "Turn {amount} into a fortune with our guaranteed returns. Only {num} places left!"},
	{"Lowest prices on medication", "Save up to 90% on brand-name medication. No prescription needed. Fast shipping to {city}."},
	{"Inheritance claim ref {num}", "I am a barrister representing the estate of a distant relative of yours. Please reply urgently."},
	{"Your parcel is on hold", "A customs fee of {amount} is due for parcel {num}. Pay now to release your delivery."},
}

// projects fill the {project} placeholder.
var projects = [...]string{
	"Atlas", "Borealis", "Cobalt", "Dynamo", "Everest", "Falcon", "Gemini", "Helios", "Ion", "Juniper",
}

// days fill the {day} placeholder.
var days = [...]string{
	"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
}

// cities fill the {city} placeholder.
var cities = [...]string{
	"Lisbon", "Berlin", "Toronto", "Singapore", "Nairobi", "Melbourne", "Oslo", "Montréal", "Kyoto", "Buenos Aires",
}

// draftTemplates are the subjects and snippets of the drafts folder.
var draftTemplates = [...]template{
	{"Re: {project} roadmap", "Thanks for the update. I'd suggest we"},
	{"Proposal for {project}", "Hi team, following our discussion on {day}, I'd like to propose"},
	{"Out of office {day}", "I'll be out of the office on {day} with limited access to email."},
	{"Question about invoice #{num}", "Hello, I have a question about invoice #{num} for {amount}:"},
	{"Trip to {city}", "Hi! I'm planning to be in {city} and was wondering if"},
}

// me is the sender of the sent and drafts folders.
const me = "Me <me@mail.example.com>"

// replySnippets are the snippets of replies within a thread.
var replySnippets = [...]string{
	"Thanks, that works for me. Let's go ahead.",
	"Sounds good — I've added a couple of comments inline.",
	"Quick follow-up on this: any update?",
	"Looping in the team so everyone has the context.",
	"Agreed. I'll take care of the next step and report back.",
	"Sorry for the delay, I was out yesterday. Answers below.",
	"Could we push this to next week? Things are busy here.",
	"Perfect, thank you for sorting this out so quickly!",
}
