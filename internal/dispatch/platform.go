package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/imperalcloud/exthost/ctx"
	"github.com/imperalcloud/exthost/internal/confirm"
	"github.com/imperalcloud/exthost/internal/events"
	"github.com/imperalcloud/exthost/internal/panics"
	"github.com/imperalcloud/exthost/internal/tasks"
	"github.com/imperalcloud/exthost/runtime"
	"github.com/imperalcloud/exthost/store"
)

// confirmationMessage is the SDK's text for a call held at the gate.
const confirmationMessage = "Action requires user confirmation before execution."

// ConfirmationData is the data of a CONFIRMATION_REQUIRED answer.
type ConfirmationData struct {
	Confirmation Confirmation `json:"confirmation"`
}

// Confirmation is what confirming a call takes: calling it again, with the
// same function and params, and the token.
type Confirmation struct {
	Token      string             `json:"token"`
	Function   string             `json:"function"`
	Params     json.RawMessage    `json:"params"`
	ActionType runtime.ActionType `json:"action_type"`
	// ExpiresAt is RFC 3339 UTC.
	ExpiresAt string `json:"expires_at"`
}

// confirmed holds a call of a function that requires confirmation at the
// gate: without a token it answers CONFIRMATION_REQUIRED with one; with a
// token issued for this very call, unexpired and unused, it lets the call
// through (confirmed); any other token answers CONFIRMATION_INVALID.
func (cl *call) confirmed(parent context.Context, t *Target, run runtime.Bound) (res runtime.Result, confirmed bool) {
	d, req := cl.d, cl.req
	held := confirm.Call{AppID: req.AppID, UserID: req.User.ImperalID, Function: req.Function, Params: req.Params,
		RequestID: req.RequestID}
	if req.ConfirmationToken != "" {
		err := d.confirm.Redeem(parent, req.ConfirmationToken, held)
		if err == nil {
			return runtime.Result{}, true
		}
		cl.tr.Err = err
		d.log.Info("confirmation refused", zap.String("request_id", req.RequestID), zap.String("app", req.AppID),
			zap.String("function", req.Function), zap.Error(err))
		return runtime.Fail("The confirmation token is not valid for this call: ask the user to confirm it again.").
			WithCode(runtime.CodeConfirmationInvalid), false
	}
	ticket, err := d.confirm.Issue(held)
	if err != nil { // valid JSON, but not canonical: a number out of range, say
		cl.tr.Err = err
		return runtime.Fail("The parameters hold a value that cannot be confirmed: a number out of range.").
			WithCode(runtime.CodeValidationTypeError), false
	}
	summary, err := confirmSummary(run)
	if err != nil {
		cl.tr.Err = err
		d.logFailure(req, err, InternalError())
		return InternalError(), false
	}
	res = runtime.Fail(confirmationMessage).WithCode(runtime.CodeConfirmationRequired)
	res.Summary = summary
	res.Data = ConfirmationData{Confirmation{
		Token: ticket.Token, Function: req.Function, Params: ticket.Params,
		ActionType: t.fn.Info().ActionType, ExpiresAt: ticket.ExpiresAt.UTC().Format(time.RFC3339),
	}}
	return res, false
}

// confirmSummary runs the extension's summary of a held call, which may
// panic like any of its code.
func confirmSummary(run runtime.Bound) (summary string, err error) {
	defer panics.Recover(&err)
	return run.ConfirmSummary(), nil
}

// startTask starts the task a call's handler handed over and returns the
// call's answer: the task's id, or why nothing started.
func (cl *call) startTask(t *Target, task *runtime.Task) runtime.Result {
	d, req := cl.d, cl.req
	timeout := d.taskTimeout
	if t.long {
		timeout = d.longTimeout
	}
	rec, err := d.tasks.Start(tasks.Spec{
		AppID: req.AppID, UserID: req.User.ImperalID, TenantID: req.User.TenantID,
		Function: req.Function, Name: task.Name, Timeout: timeout,
		Run: func(c context.Context, report func(tasks.Progress) error) tasks.Outcome {
			return d.runTask(c, t, req, task, report)
		},
	})
	switch {
	case errors.Is(err, tasks.ErrFull):
		return runtime.Fail("The host runs as many background tasks as it may; retry shortly.").
			WithCode(runtime.CodeRateLimited).WithRetry()
	case errors.Is(err, tasks.ErrClosed):
		return runtime.Fail("The host is shutting down.").WithCode(runtime.CodeUnavailable).WithRetry()
	case err != nil:
		d.log.Warn("task not started", zap.String("request_id", req.RequestID), zap.Error(err))
		return runtime.Fail("The host cannot keep task records right now.").WithCode(runtime.CodeUnavailable).WithRetry()
	}
	// Nothing has changed yet: the task's own result says what to refresh.
	return task.Started(rec.TaskID).WithRefreshPanels()
}

// runTask runs a task's work on its own call and returns its result, as
// a call's: codes stamped, panels added, the declared event published on
// success.
func (d *Dispatcher) runTask(parent context.Context, t *Target, req Request, task *runtime.Task, report func(tasks.Progress) error) tasks.Outcome {
	req.RequestID = NewRequestID()
	client, err := d.store.Client(req.AppID, req.User.ImperalID, t.ext.CacheModels())
	if err != nil { // the call that started the task had one
		return tasks.Outcome{Result: mustEncode(InternalError())}
	}
	docs := new(store.Client)
	docs.Bind(d.docs, req.AppID, req.User.ImperalID, t.ext.Collections())
	c := ctx.NewCall(parent, ctx.Setup{
		AppID: req.AppID, Function: req.Function, RequestID: req.RequestID, User: req.User,
		HTTP: d.http.ForCall(req.RequestID, nil), Cache: client, Store: docs, Clock: d.now, Logger: d.log,
		Config: t.env.Config, Secrets: t.env.Secrets, Notifier: d.notifier,
		Progress: func(percent float64, message string) error {
			return report(tasks.Progress{Percent: percent, Message: message})
		},
	})
	var res runtime.Result
	func() {
		defer panics.Recover(&err)
		res, err = task.Run(c)
	}()
	if err == nil && res.Task() != nil {
		err = fmt.Errorf("dispatch: %s: a task's result starts another task: %w", req.Function, panics.ErrBug)
	}
	if err != nil {
		res = ErrorResult(err)
		d.logFailure(req, err, res)
	}
	res = d.finish(t, req, res)
	if res.OK() && t.event != "" {
		res, _ = d.publish(context.WithoutCancel(parent), req, t.event, res)
	}
	answer, err := res.AppendJSON(nil)
	if err != nil {
		d.log.Error("task result does not encode; recording INTERNAL", zap.String("request_id", req.RequestID),
			zap.String("app", req.AppID), zap.String("function", req.Function), zap.Error(err))
		return tasks.Outcome{Result: mustEncode(InternalError())}
	}
	return tasks.Outcome{OK: res.OK(), Result: answer}
}

// TaskFinished publishes a task's final record as the event task.finished:
// data {"task_id", "function", "status", "result"}. The pool calls it.
func (d *Dispatcher) TaskFinished(rec tasks.Record) {
	data, err := json.Marshal(struct {
		TaskID   string          `json:"task_id"`
		Function string          `json:"function"`
		Status   tasks.Status    `json:"status"`
		Result   json.RawMessage `json:"result"`
	}{rec.TaskID, rec.Function, rec.Status, rec.Result})
	if err != nil {
		d.log.Error("task record does not encode", zap.String("task_id", rec.TaskID), zap.Error(err))
		return
	}
	d.events.Publish(context.Background(), events.Event{
		EventType: TaskFinishedEvent, Data: data, SourceApp: rec.AppID, UserID: rec.UserID, TenantID: rec.TenantID,
		Timestamp: d.now().UTC().Format(time.RFC3339Nano),
	})
}

func mustEncode(res runtime.Result) json.RawMessage {
	out, err := res.MarshalJSON()
	if err != nil {
		panic(err)
	}
	return out
}
