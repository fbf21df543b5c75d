package runtime

import (
	"fmt"

	"github.com/imperalcloud/exthost/ctx"
)

// TaskFunc is a background task's work. It runs after the call that
// started it has answered, on its own Call: the same caller and clients,
// the task's deadline (180 s, 1800 s for a LongRunning function) and
// cancellation. It reports progress with c.Progress and returns the
// task's result, which the host stores and publishes as task.finished.
type TaskFunc func(c *ctx.Call) (Result, error)

// Task is the work a result hands to the host.
type Task struct {
	// Name names the task for people: in the summary and the record.
	Name string
	// Run is the work.
	Run TaskFunc
}

// TaskStarted is the data of a call that started a task, the SDK's
// {"task_id", "background": true}; declare it as the result data of a
// function that always answers by starting one.
type TaskStarted struct {
	TaskID     string `json:"task_id"`
	Background bool   `json:"background"`
}

// StartTask returns the result of a call that hands work to a background
// task (the SDK's ctx.background_task): the host starts run once the
// handler returns this result, and answers with the task's id and the
// SDK's summary. A host at its task limit answers RATE_LIMITED instead,
// and nothing runs. Only a function that declares Background may return it.
func StartTask(name string, run TaskFunc) Result {
	if name == "" {
		name = "background"
	}
	return Result{Status: StatusSuccess, Data: TaskStarted{Background: true}, task: &Task{Name: name, Run: run}}
}

// Task returns the task the result starts, or nil.
func (r Result) Task() *Task { return r.task }

// Started returns the answer of a call whose task the host started as id:
// the SDK's data and summary.
func (t *Task) Started(id string) Result {
	summary := fmt.Sprintf("Started '%s' in background — the result will be sent to chat when it finishes.", t.Name)
	return Success(TaskStarted{TaskID: id, Background: true}, summary)
}
