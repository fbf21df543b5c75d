package server

import (
	"encoding/json"
	"net/http"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/imperalcloud/exthost/internal/calltoken"
	"github.com/imperalcloud/exthost/internal/tasks"
	"github.com/imperalcloud/exthost/runtime"
)

// taskJSON is a task as GET /v1/tasks/{id} answers it (DESIGN §13).
type taskJSON struct {
	TaskID   string          `json:"task_id"`
	Function string          `json:"function"`
	Status   tasks.Status    `json:"status"`
	Progress tasks.Progress  `json:"progress"`
	Result   json.RawMessage `json:"result"`
}

func newTaskJSON(rec tasks.Record) taskJSON {
	result := rec.Result
	if len(result) == 0 {
		result = json.RawMessage("null")
	}
	return taskJSON{TaskID: rec.TaskID, Function: rec.Function, Status: rec.Status, Progress: rec.Progress, Result: result}
}

// getTask serves GET /v1/tasks/{id}: the caller's own task, else 404.
func (s *Server) getTask(c echo.Context) error {
	rec, rej := s.ownTask(c)
	if rej != nil {
		return s.refuse(c, rej)
	}
	return s.answerJSON(c, newTaskJSON(rec))
}

// cancelTask serves DELETE /v1/tasks/{id}: it cancels the caller's own
// running task and answers its record, cancelled; a task that had ended
// is answered as it ended.
func (s *Server) cancelTask(c echo.Context) error {
	if _, rej := s.ownTask(c); rej != nil {
		return s.refuse(c, rej)
	}
	rec, ok, err := s.d.Tasks().Cancel(c.Request().Context(), c.Param("id"))
	switch {
	case err != nil:
		return s.refuse(c, s.tasksUnreachable(c, err))
	case !ok:
		return s.refuse(c, noTask())
	}
	return s.answerJSON(c, newTaskJSON(rec))
}

// ownTask finds the task of the path for its caller: the user_id query in
// dev mode, the call token's user in call_token mode (a token of the
// task's app; one token per request, as for calls). The caller is known
// before the task is looked up, and another user's task is as absent as
// one that never was.
func (s *Server) ownTask(c echo.Context) (tasks.Record, *rejection) {
	var caller calltoken.Claims
	if s.tokens == nil {
		caller.UserID = c.QueryParam("user_id")
		if caller.UserID == "" {
			return tasks.Record{}, badRequest("user_id is required.")
		}
	} else {
		token, ok := calltoken.ParseHeader(c.Request().Header.Get(echo.HeaderAuthorization))
		if !ok {
			return tasks.Record{}, &rejection{http.StatusUnauthorized, runtime.CodeUnauthenticated, calltoken.ReasonMissing}
		}
		var err error
		if caller, err = s.tokens.VerifyCaller(c.Request().Context(), token); err != nil {
			return tasks.Record{}, tokenRejection(err)
		}
	}
	rec, ok, err := s.d.Tasks().Get(c.Request().Context(), c.Param("id"))
	switch {
	case err != nil:
		return tasks.Record{}, s.tasksUnreachable(c, err)
	case !ok, rec.UserID != caller.UserID, s.tokens != nil && rec.AppID != caller.AppID:
		return tasks.Record{}, noTask()
	}
	return rec, nil
}

func noTask() *rejection {
	return &rejection{http.StatusNotFound, CodeNotFound, "No such task."}
}

// tasksUnreachable logs why the task records failed and answers 503.
func (s *Server) tasksUnreachable(c echo.Context, err error) *rejection {
	s.log.Warn("task records unreachable", zap.String("request_id", requestIDOf(c)), zap.Error(err))
	return &rejection{http.StatusServiceUnavailable, runtime.CodeUnavailable, "Task records cannot be read right now; retry."}
}
