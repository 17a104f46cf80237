package web

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/partners"
	"github.com/bankbridge/bankbridge/webhooks"
)

// PortalWebhooks serves an app's webhook pages in the partner portal, under
// /portal/orgs/:pid/apps/:aid/webhooks: the endpoints (create, edit, delete,
// rotate the signing secret, send a test event, replay), each endpoint's
// delivery log and the partner's webhook notices. Members whose role may
// write the app's environment (developer, owner) may change things; viewers
// only read. Secrets are shown once, on the page that answers the create or
// rotate form.
type PortalWebhooks struct {
	Portal   *Portal
	Webhooks *webhooks.Service
}

// Register mounts the pages.
func (w *PortalWebhooks) Register(r gin.IRouter) {
	g := r.Group("/portal/orgs/:pid/apps/:aid/webhooks")
	g.GET("", w.list)
	g.POST("", w.create)
	g.POST("/replay", w.replayEvent)
	g.POST("/notices/:nid/read", w.markRead)
	g.GET("/:eid", w.endpoint)
	g.POST("/:eid", w.update)
	g.POST("/:eid/delete", w.delete)
	g.POST("/:eid/rotate", w.rotate)
	g.POST("/:eid/test", w.test)
	g.POST("/:eid/replay", w.replayRange)
	g.GET("/:eid/log", w.deliveryLog)
}

// whCtx is what every webhook page knows.
type whCtx struct {
	u        *portalUser
	o        *orgView
	app      *partners.App
	canWrite bool
	scope    webhooks.Scope
}

// base is the app's webhooks path.
func (x *whCtx) base() string { return x.o.Base() + "/apps/" + x.app.ID + "/webhooks" }

// load signs the user in, checks membership (and CSRF on POST), loads the
// app and, when write is set, refuses members whose role may not change the
// app (403) and revoked apps (409). It renders the refusal itself.
func (w *PortalWebhooks) load(c *gin.Context, write bool) (*whCtx, bool) {
	p := w.Portal
	u, o, ok := p.org(c, "Apps")
	if !ok {
		return nil, false
	}
	a, err := p.Partners.GetApp(c.Request.Context(), u.ID, o.Partner.ID, c.Param("aid"))
	if err != nil {
		st, msg := refusal(p.log(), "get app", err)
		p.problemPage(c, st, titleFor(st), msg, u.Email)
		return nil, false
	}
	act := partnerAppAction(a.Environment)
	x := &whCtx{u: u, o: o, app: a, canWrite: partners.Can(o.Role, act) && a.Status != partners.AppRevoked,
		scope: webhooks.Scope{PartnerID: o.Partner.ID, AppID: a.ID, Actor: u.ID}}
	if write && !x.canWrite {
		err := problem.New(problem.CodeForbidden, "role %s may not %s", o.Role, act)
		if partners.Can(o.Role, act) {
			err = problem.New(problem.CodeInvalidState, "app %s is revoked", a.ID)
		}
		st, msg := refusal(p.log(), "webhooks", err)
		p.problemPage(c, st, titleFor(st), msg, u.Email)
		return nil, false
	}
	return x, true
}

// webhookForm is the create and edit forms' values.
type webhookForm struct {
	URL, Description, Signing string
	Events                    map[string]bool
	Enabled                   bool
}

func readWebhookForm(c *gin.Context) webhookForm {
	f := webhookForm{URL: strings.TrimSpace(c.PostForm("url")), Description: strings.TrimSpace(c.PostForm("description")),
		Signing: c.PostForm("signing"), Events: map[string]bool{}, Enabled: c.PostForm("enabled") != ""}
	for _, e := range c.PostFormArray("event_types") {
		f.Events[e] = true
	}
	return f
}

// eventList returns the checked events in catalogue order (unknown names
// last, so the service names them in its refusal).
func (f webhookForm) eventList() []string {
	out := []string{}
	known := map[string]bool{}
	for _, t := range webhooks.EventTypes() {
		known[t.Name] = true
		if f.Events[t.Name] {
			out = append(out, t.Name)
		}
	}
	for e := range f.Events {
		if !known[e] {
			out = append(out, e)
		}
	}
	return out
}

// whEndpointRow is one endpoint in the list with its latest delivery.
type whEndpointRow struct {
	webhooks.Endpoint
	LastStatus string // delivery status of the latest delivery, "" when none
	LastCode   int
	LastOK     bool
}

type webhooksListData struct {
	*orgView
	App        *partners.App
	Base       string
	CanWrite   bool
	Endpoints  []whEndpointRow
	Notices    []webhooks.Notice
	EventTypes []webhooks.EventType
	In         webhookForm
	EventID    string // replay form value
}

// OrgBase is the organisation path (Base is the webhooks path).
func (d webhooksListData) OrgBase() string { return d.orgView.Base() }

func (w *PortalWebhooks) renderList(c *gin.Context, x *whCtx, status int, flash, errMsg string, in *webhookForm, eventID string) {
	ctx := c.Request.Context()
	d := webhooksListData{orgView: x.o, App: x.app, Base: x.base(), CanWrite: x.canWrite, EventTypes: webhooks.EventTypes(),
		In: webhookForm{Signing: webhooks.SigningHMAC, Events: map[string]bool{}, Enabled: true}, EventID: eventID}
	if in != nil {
		d.In = *in
	}
	eps, err := w.Webhooks.ListEndpoints(ctx, x.scope)
	if err == nil {
		for _, e := range eps {
			r := whEndpointRow{Endpoint: e}
			var ds []webhooks.Delivery
			if ds, err = w.Webhooks.Deliveries(ctx, x.scope, e.ID, "", 1); err != nil {
				break
			}
			if len(ds) == 1 {
				r.LastStatus, r.LastCode = ds[0].Status, ds[0].LastStatusCode
				r.LastOK = ds[0].Status == webhooks.StatusSucceeded
			}
			d.Endpoints = append(d.Endpoints, r)
		}
	}
	if err == nil {
		var ns []webhooks.Notice
		if ns, err = w.Webhooks.Notices(ctx, x.o.Partner.ID, false); err == nil {
			for _, n := range ns {
				if n.AppID == "" || n.AppID == x.app.ID {
					d.Notices = append(d.Notices, n)
				}
			}
		}
	}
	if err != nil {
		st, msg := refusal(w.Portal.log(), "list webhooks", err)
		w.Portal.problemPage(c, st, titleFor(st), msg, x.u.Email)
		return
	}
	w.Portal.page(c, status, "portal/webhooks", Page{Title: "Webhooks of " + x.app.Name, User: x.u.Email, Flash: flash, Error: errMsg, Data: d})
}

func (w *PortalWebhooks) list(c *gin.Context) {
	x, ok := w.load(c, false)
	if !ok {
		return
	}
	flash := ""
	switch c.Query("done") {
	case "deleted":
		flash = "Endpoint deleted. Its pending deliveries were cancelled; its delivery log is kept."
	case "replayed":
		flash = queuedMessage(c.Query("n"))
	case "notice_read":
		flash = "Notice marked as read."
	}
	w.renderList(c, x, http.StatusOK, flash, "", nil, "")
}

// queuedMessage says how many deliveries a replay queued.
func queuedMessage(n string) string {
	k, err := strconv.Atoi(n)
	switch {
	case err != nil || k < 0:
		return "Replay queued."
	case k == 1:
		return "1 delivery queued."
	}
	return strconv.Itoa(k) + " deliveries queued."
}

func (w *PortalWebhooks) create(c *gin.Context) {
	x, ok := w.load(c, true)
	if !ok {
		return
	}
	in := readWebhookForm(c)
	in.Enabled = true
	e, creds, err := w.Webhooks.CreateEndpoint(c.Request.Context(), x.scope, x.app.Environment,
		webhooks.EndpointInput{URL: in.URL, EventTypes: in.eventList(), Description: in.Description, Signing: in.Signing})
	if err != nil {
		st, msg := refusal(w.Portal.log(), "create webhook endpoint", err)
		w.renderList(c, x, st, "", msg, &in, "")
		return
	}
	w.renderEndpoint(c, x, e.ID, http.StatusOK, "Endpoint created.", "", creds, nil, nil)
}

type replayForm struct {
	From, To   string
	FailedOnly bool
}

type webhookEndpointData struct {
	*orgView
	App        *partners.App
	Base       string
	CanWrite   bool
	Endpoint   *webhooks.Endpoint
	Creds      *webhooks.Credentials
	Edit       webhookForm
	EventTypes []webhooks.EventType
	Replay     replayForm
}

func (w *PortalWebhooks) renderEndpoint(c *gin.Context, x *whCtx, eid string, status int, flash, errMsg string,
	creds *webhooks.Credentials, edit *webhookForm, replay *replayForm) {
	e, err := w.Webhooks.GetEndpoint(c.Request.Context(), x.scope, eid)
	if err != nil {
		st, msg := refusal(w.Portal.log(), "get webhook endpoint", err)
		w.Portal.problemPage(c, st, titleFor(st), msg, x.u.Email)
		return
	}
	d := webhookEndpointData{orgView: x.o, App: x.app, Base: x.base(), CanWrite: x.canWrite, Endpoint: e, Creds: creds,
		EventTypes: webhooks.EventTypes(),
		Edit:       webhookForm{URL: e.URL, Description: e.Description, Signing: e.Signing, Events: map[string]bool{}, Enabled: e.Enabled}}
	for _, t := range e.EventTypes {
		d.Edit.Events[t] = true
	}
	if edit != nil {
		d.Edit = *edit
	}
	if replay != nil {
		d.Replay = *replay
	} else {
		now := time.Now().UTC()
		d.Replay = replayForm{From: now.Add(-24 * time.Hour).Format(formTime), To: now.Add(time.Minute).Format(formTime), FailedOnly: true}
	}
	w.Portal.page(c, status, "portal/webhooks_endpoint", Page{Title: "Webhook endpoint", User: x.u.Email, Flash: flash, Error: errMsg, Data: d})
}

// formTime is the layout of datetime-local inputs; the pages use UTC.
const formTime = "2006-01-02T15:04"

func (w *PortalWebhooks) endpoint(c *gin.Context) {
	x, ok := w.load(c, false)
	if !ok {
		return
	}
	flash := ""
	switch c.Query("done") {
	case "updated":
		flash = "Changes saved."
	case "test":
		flash = "Test event queued. It appears in the delivery log once sent."
	case "replayed":
		flash = queuedMessage(c.Query("n"))
	}
	w.renderEndpoint(c, x, c.Param("eid"), http.StatusOK, flash, "", nil, nil, nil)
}

func (w *PortalWebhooks) update(c *gin.Context) {
	x, ok := w.load(c, true)
	if !ok {
		return
	}
	eid := c.Param("eid")
	in := readWebhookForm(c)
	events := in.eventList()
	_, err := w.Webhooks.UpdateEndpoint(c.Request.Context(), x.scope, eid,
		webhooks.EndpointPatch{URL: &in.URL, EventTypes: &events, Enabled: &in.Enabled, Description: &in.Description})
	if err != nil {
		st, msg := refusal(w.Portal.log(), "update webhook endpoint", err)
		w.renderEndpoint(c, x, eid, st, "", msg, nil, &in, nil)
		return
	}
	c.Redirect(http.StatusSeeOther, x.base()+"/"+eid+"?done=updated")
}

func (w *PortalWebhooks) delete(c *gin.Context) {
	x, ok := w.load(c, true)
	if !ok {
		return
	}
	eid := c.Param("eid")
	if err := w.Webhooks.DeleteEndpoint(c.Request.Context(), x.scope, eid); err != nil {
		st, msg := refusal(w.Portal.log(), "delete webhook endpoint", err)
		w.renderEndpoint(c, x, eid, st, "", msg, nil, nil, nil)
		return
	}
	c.Redirect(http.StatusSeeOther, x.base()+"?done=deleted")
}

// overlaps are the rotation form's choices (hours; "" is the default).
var overlaps = map[string]time.Duration{"": -1, "0": 0, "24": 24 * time.Hour, "168": webhooks.MaxRotationOverlap}

func (w *PortalWebhooks) rotate(c *gin.Context) {
	x, ok := w.load(c, true)
	if !ok {
		return
	}
	eid := c.Param("eid")
	overlap, known := overlaps[c.PostForm("overlap_hours")]
	if !known {
		w.renderEndpoint(c, x, eid, http.StatusUnprocessableEntity, "", "Choose how long the previous secret keeps signing.", nil, nil, nil)
		return
	}
	e, creds, err := w.Webhooks.RotateSecret(c.Request.Context(), x.scope, eid, overlap)
	if err != nil {
		st, msg := refusal(w.Portal.log(), "rotate webhook secret", err)
		w.renderEndpoint(c, x, eid, st, "", msg, nil, nil, nil)
		return
	}
	noun, Noun := "secret", "Secret"
	if e.Signing == webhooks.SigningEd25519 {
		noun, Noun = "key", "Key"
	}
	flash := Noun + " rotated. The previous " + noun + " stopped signing at once."
	if creds.PreviousValidUntil != nil {
		flash = Noun + " rotated. Deliveries carry signatures with both the previous and the new " + noun + " until " +
			creds.PreviousValidUntil.UTC().Format("2 Jan 2006 15:04 UTC") + "."
	}
	w.renderEndpoint(c, x, eid, http.StatusOK, flash, "", creds, nil, nil)
}

func (w *PortalWebhooks) test(c *gin.Context) {
	x, ok := w.load(c, true)
	if !ok {
		return
	}
	eid := c.Param("eid")
	if _, err := w.Webhooks.SendTest(c.Request.Context(), x.scope, eid); err != nil {
		retryAfter(c, err)
		st, msg := refusal(w.Portal.log(), "send test webhook", err)
		w.renderEndpoint(c, x, eid, st, "", msg, nil, nil, nil)
		return
	}
	c.Redirect(http.StatusSeeOther, x.base()+"/"+eid+"?done=test")
}

// parseFormTime reads a datetime-local value as UTC.
func parseFormTime(v string) (time.Time, bool) {
	v = strings.TrimSpace(v)
	for _, layout := range []string{formTime, formTime + ":05", time.RFC3339} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

func (w *PortalWebhooks) replayRange(c *gin.Context) {
	x, ok := w.load(c, true)
	if !ok {
		return
	}
	eid := c.Param("eid")
	rf := replayForm{From: c.PostForm("from"), To: c.PostForm("to"), FailedOnly: c.PostForm("failed_only") != ""}
	from, okFrom := parseFormTime(rf.From)
	to, okTo := parseFormTime(rf.To)
	if !okFrom || !okTo {
		w.renderEndpoint(c, x, eid, http.StatusUnprocessableEntity, "", msgReplayTimes, nil, nil, &rf)
		return
	}
	n, err := w.Webhooks.ReplayRange(c.Request.Context(), x.scope, eid, from, to, rf.FailedOnly)
	if err != nil {
		retryAfter(c, err)
		st, msg := refusal(w.Portal.log(), "replay webhook range", err)
		w.renderEndpoint(c, x, eid, st, "", msg, nil, nil, &rf)
		return
	}
	c.Redirect(http.StatusSeeOther, x.base()+"/"+eid+"?done=replayed&n="+strconv.Itoa(n))
}

// retryAfter sends Retry-After with a replay limit's 429 refusal.
func retryAfter(c *gin.Context, err error) {
	if d, ok := webhooks.RetryAfter(err); ok {
		c.Header("Retry-After", strconv.FormatInt(int64(d/time.Second), 10))
	}
}

const msgReplayTimes = "From and to must be dates and times in UTC, such as 2026-11-23T09:00."

func (w *PortalWebhooks) replayEvent(c *gin.Context) {
	x, ok := w.load(c, true)
	if !ok {
		return
	}
	id := strings.TrimSpace(c.PostForm("event_id"))
	if id == "" {
		w.renderList(c, x, http.StatusUnprocessableEntity, "", "Enter the ID of the event to replay (evt_…).", nil, id)
		return
	}
	n, err := w.Webhooks.ReplayEvent(c.Request.Context(), x.scope, id)
	if err != nil {
		retryAfter(c, err)
		st, msg := refusal(w.Portal.log(), "replay webhook event", err)
		w.renderList(c, x, st, "", msg, nil, id)
		return
	}
	c.Redirect(http.StatusSeeOther, x.base()+"?done=replayed&n="+strconv.Itoa(n))
}

func (w *PortalWebhooks) markRead(c *gin.Context) {
	x, ok := w.load(c, true)
	if !ok {
		return
	}
	if err := w.Webhooks.MarkNoticeRead(c.Request.Context(), x.o.Partner.ID, c.Param("nid")); err != nil {
		st, msg := refusal(w.Portal.log(), "mark webhook notice read", err)
		w.renderList(c, x, st, "", msg, nil, "")
		return
	}
	c.Redirect(http.StatusSeeOther, x.base()+"?done=notice_read")
}

// deliveryLogFilter is the delivery log's filter form.
type deliveryLogFilter struct {
	EventID    string
	FailedOnly bool
	Before     int64
}

type deliveryLogData struct {
	*orgView
	App      *partners.App
	Base     string
	Endpoint *webhooks.Endpoint
	Filter   deliveryLogFilter
	Attempts []webhooks.Attempt
	// Older is the cursor of the next page ("" when this is the last).
	Older string
}

// deliveryLogPage is how many attempts the log shows at once.
const deliveryLogPage = 50

func (w *PortalWebhooks) deliveryLog(c *gin.Context) {
	x, ok := w.load(c, false)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	e, err := w.Webhooks.GetEndpoint(ctx, x.scope, c.Param("eid"))
	if err != nil {
		st, msg := refusal(w.Portal.log(), "get webhook endpoint", err)
		w.Portal.problemPage(c, st, titleFor(st), msg, x.u.Email)
		return
	}
	d := deliveryLogData{orgView: x.o, App: x.app, Base: x.base(), Endpoint: e,
		Filter: deliveryLogFilter{EventID: strings.TrimSpace(c.Query("event_id")), FailedOnly: c.Query("failed_only") != ""}}
	status, errMsg := http.StatusOK, ""
	if b := c.Query("before"); b != "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 {
			status, errMsg = http.StatusBadRequest, "The page link is not valid. Start again from the newest attempts."
		}
		d.Filter.Before = n
	}
	if errMsg == "" {
		d.Attempts, err = w.Webhooks.Attempts(ctx, x.o.Partner.ID, e.ID, webhooks.AttemptFilter{AppID: x.app.ID,
			EventID: d.Filter.EventID, FailedOnly: d.Filter.FailedOnly, Before: d.Filter.Before, Limit: deliveryLogPage})
		if err != nil {
			status, errMsg = refusal(w.Portal.log(), "webhook delivery log", err)
		} else if len(d.Attempts) == deliveryLogPage {
			d.Older = strconv.FormatInt(d.Attempts[len(d.Attempts)-1].ID, 10)
		}
	}
	w.Portal.page(c, status, "portal/webhooks_log", Page{Title: "Delivery log", User: x.u.Email, Error: errMsg, Data: d})
}
