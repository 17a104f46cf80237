package web

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/throttle"
	"github.com/bankbridge/bankbridge/monitoring"
	"github.com/bankbridge/bankbridge/monitoring/reviews"
	"github.com/bankbridge/bankbridge/partners"
	"github.com/bankbridge/bankbridge/partners/staff"
)

// Console serves the bank staff console at /console: sign-in with password
// and TOTP code, the partner list and detail (application review, due
// diligence, decisions, certification, maker-checker go-live and
// reinstatement, suspension of partners and apps, the partner's latest
// consents with how each was authorised), the Monitoring section
// (console_monitoring.go), the Screening page (console_screening.go), the
// Limits page (console_limits.go, mounted by ConsoleLimits) and the audit
// trail. Only
// the actions the staff member's role may take are shown (staff.Can); the
// services enforce the same rules.
type Console struct {
	Pages    *Renderer
	CSRF     CSRF
	Sessions *Sessions
	Partners *partners.Service
	// Staff signs staff in and loads them (nil: Partners.Staff()).
	Staff *staff.Service
	// DB holds the audit trail (read with internal/audit.List).
	DB *gorm.DB
	// Consents lists a partner's latest consents on its page, with how each
	// was authorised (nil: the section says consents are not available).
	Consents ConsentReader
	// Monitoring computes the Monitoring section (nil: the section says it
	// is not available).
	Monitoring *monitoring.Service
	// Reviews lists a partner's performance reviews on its page (nil: the
	// section is not shown).
	Reviews *reviews.Service
	// Screening is the Screening page and the partner page's screening at
	// due diligence (nil: both say screening is not available).
	Screening Screening
	Log       *slog.Logger
}

// Register mounts the console routes under /console.
func (k *Console) Register(r gin.IRouter) {
	g := r.Group("/console")
	g.GET("", k.home)
	g.GET("/", k.home)
	g.GET("/sign-in", k.signInForm)
	g.POST("/sign-in", k.signIn)
	g.POST("/sign-out", k.signOut)
	g.GET("/password", k.passwordForm)
	g.POST("/password", k.changePassword)
	g.GET("/partners", k.partnerList)
	g.GET("/partners/:pid", k.partnerDetail)
	g.POST("/partners/:pid/review", k.startReview)
	g.POST("/partners/:pid/due-diligence", k.recordDueDiligence)
	g.POST("/partners/:pid/decision", k.decide)
	g.POST("/partners/:pid/certification", k.certify)
	g.POST("/partners/:pid/go-live", k.requestGoLive)
	g.POST("/partners/:pid/suspend", k.suspend)
	g.POST("/partners/:pid/reinstate", k.requestReinstate)
	g.POST("/partners/:pid/terminate", k.terminate)
	g.POST("/approvals/:id/approve", k.approve)
	g.POST("/approvals/:id/reject", k.rejectApproval)
	g.POST("/apps/:aid/suspend", k.suspendApp)
	g.POST("/apps/:aid/reinstate", k.reinstateApp)
	g.GET("/audit", k.auditTrail)
	g.GET("/monitoring", k.monitoringHome)
	g.GET("/monitoring/availability", k.availability)
	g.GET("/monitoring/availability.csv", k.availabilityCSV)
	g.GET("/screening", k.screeningHome)
	g.POST("/screening/test", k.screeningTest)
}

// staffAccounts is Staff, or the partners service's staff service.
func (k *Console) staffAccounts() *staff.Service {
	if k.Staff != nil {
		return k.Staff
	}
	return k.Partners.Staff()
}

func (k *Console) log() *slog.Logger {
	if k.Log != nil {
		return k.Log
	}
	return slog.Default()
}

// consoleView is what every signed-in console page knows.
type consoleView struct {
	Staff *staff.Member
	Nav   *navBar
	// Can holds the staff member's allowed actions (keys are staff.Action strings).
	Can map[string]bool
}

func (v *consoleView) navigation() *navBar {
	if v == nil {
		return nil
	}
	return v.Nav
}

func (k *Console) page(c *gin.Context, status int, name string, pg Page) {
	pg.Area = "console"
	if pg.CSRFToken == "" {
		pg.CSRFToken = k.CSRF.Token(c.Writer, c.Request)
	}
	k.Pages.Render(c.Writer, status, name, pg)
}

// allowed reports whether st's role may do action; when not, it renders the
// console's refusal ("Role R may not A.", 403).
func (k *Console) allowed(c *gin.Context, st *staff.Member, action staff.Action) bool {
	if staff.Can(st.Role, action) {
		return true
	}
	k.problemPage(c, http.StatusForbidden, "Not allowed", readable("role "+string(st.Role)+" may not "+string(action)), who(st))
	return false
}

func (k *Console) problemPage(c *gin.Context, status int, title, msg, user string) {
	k.page(c, status, "problem", Page{Title: title, Error: msg, User: user})
}

func who(st *staff.Member) string { return st.Email + " (" + string(st.Role) + ")" }

// staff returns the signed-in staff member, or redirects to sign-in (or to
// the password change a new account must make first). For POST requests it
// also checks the CSRF token.
func (k *Console) staff(c *gin.Context, current string) (*staff.Member, *consoleView, bool) {
	ctx := c.Request.Context()
	s, err := k.Sessions.Get(ctx, c.Request, SessionStaff)
	var st *staff.Member
	if err == nil {
		st, err = k.staffAccounts().Get(ctx, s.SubjectID)
	}
	if err != nil {
		if !errors.Is(err, ErrNoSession) {
			k.log().Error("web: console session", "err", err)
		}
		c.Redirect(http.StatusSeeOther, "/console/sign-in")
		return nil, nil, false
	}
	if c.Request.Method == http.MethodPost {
		c.Request.ParseForm()
		if !k.CSRF.Verify(c.Request) {
			k.problemPage(c, http.StatusForbidden, "Form expired", csrfMessage, who(st))
			return nil, nil, false
		}
	}
	if st.MustChangePassword && current != "password" {
		c.Redirect(http.StatusSeeOther, "/console/password")
		return nil, nil, false
	}
	v := &consoleView{Staff: st, Can: map[string]bool{}}
	for _, a := range staff.Capabilities(st.Role) {
		v.Can[string(a)] = true
	}
	links := []navLink{{"/console/partners", "Partners", current == "partners"}}
	if v.Can[string(staff.ActMonitoringRead)] {
		links = append(links, navLink{"/console/monitoring", "Monitoring", current == "monitoring"})
	}
	if v.Can[string(staff.ActReviewsRead)] {
		links = append(links, navLink{"/console/reviews", "Reviews", current == "reviews"})
	}
	if v.Can[string(staff.ActScreening)] {
		links = append(links, navLink{"/console/screening", "Screening", current == "screening"})
	}
	links = append(links, limitsNavLink(st.Role, current)...)
	links = append(links, billingNavLinks(st.Role, current)...)
	if v.Can[string(staff.ActRiskCasesRead)] {
		links = append(links, navLink{"/console/risk/cases", "Risk cases", current == "risk"})
	}
	if v.Can[string(staff.ActReconRead)] {
		links = append(links, navLink{"/console/reconciliation/breaks", "Reconciliation breaks", current == "recon"})
	}
	if v.Can[string(staff.ActComplaintsRead)] {
		links = append(links, navLink{"/console/complaints", "Complaints", current == "complaints"})
	}
	if v.Can[string(staff.ActCorrectionsRead)] {
		links = append(links, navLink{"/console/corrections", "Corrections", current == "corrections"})
	}
	if v.Can[string(staff.ActAuditRead)] {
		links = append(links, navLink{"/console/audit", "Audit trail", current == "audit"})
	}
	v.Nav = &navBar{Label: "Console", Links: links, SignOut: "/console/sign-out"}
	return st, v, true
}

func (k *Console) home(c *gin.Context) {
	if _, err := k.Sessions.Get(c.Request.Context(), c.Request, SessionStaff); err != nil {
		c.Redirect(http.StatusSeeOther, "/console/sign-in")
		return
	}
	c.Redirect(http.StatusSeeOther, "/console/partners")
}

type staffSignInData struct{ Email string }

func (k *Console) signInForm(c *gin.Context) {
	flash := ""
	if c.Query("signed-out") != "" {
		flash = msgSignedOut
	}
	k.page(c, http.StatusOK, "console/sign_in", Page{Title: "Staff sign-in", Flash: flash, Data: staffSignInData{}})
}

func (k *Console) signIn(c *gin.Context) {
	c.Request.ParseForm()
	d := staffSignInData{Email: c.PostForm("email")}
	if !k.CSRF.Verify(c.Request) {
		k.problemPage(c, http.StatusForbidden, "Form expired", csrfMessage, "")
		return
	}
	ctx := throttle.WithClient(c.Request.Context(), c.Request)
	st, err := k.staffAccounts().Login(ctx, d.Email, c.PostForm("password"), strings.TrimSpace(c.PostForm("code")))
	if err == nil {
		err = k.Sessions.Create(ctx, c.Writer, c.Request, SessionStaff, st.ID)
	}
	if err != nil {
		status, msg := refusal(k.log(), "staff sign in", err)
		k.page(c, status, "console/sign_in", Page{Title: "Staff sign-in", Error: msg, Data: d})
		return
	}
	if st.MustChangePassword {
		c.Redirect(http.StatusSeeOther, "/console/password")
		return
	}
	c.Redirect(http.StatusSeeOther, "/console/partners")
}

func (k *Console) signOut(c *gin.Context) {
	c.Request.ParseForm()
	if !k.CSRF.Verify(c.Request) {
		k.problemPage(c, http.StatusForbidden, "Form expired", csrfMessage, "")
		return
	}
	k.Sessions.Destroy(c.Request.Context(), c.Writer, c.Request, SessionStaff)
	c.Redirect(http.StatusSeeOther, "/console/sign-in?signed-out=1")
}

func (k *Console) passwordForm(c *gin.Context) {
	st, v, ok := k.staff(c, "password")
	if !ok {
		return
	}
	k.page(c, http.StatusOK, "console/password", Page{Title: "Choose a new password", User: who(st), Data: v})
}

func (k *Console) changePassword(c *gin.Context) {
	st, v, ok := k.staff(c, "password")
	if !ok {
		return
	}
	if c.PostForm("new_password") != c.PostForm("confirm_password") {
		k.page(c, http.StatusUnprocessableEntity, "console/password", Page{Title: "Choose a new password", User: who(st),
			Error: "The two new passwords do not match.", Data: v})
		return
	}
	ctx := throttle.WithClient(c.Request.Context(), c.Request)
	if err := k.staffAccounts().ChangePassword(ctx, st.ID, c.PostForm("current_password"), c.PostForm("new_password")); err != nil {
		status, msg := refusal(k.log(), "change staff password", err)
		k.page(c, status, "console/password", Page{Title: "Choose a new password", User: who(st), Error: msg, Data: v})
		return
	}
	// Every other session of this staff member ends; this browser goes on
	// with a new session token (Sessions.Renew).
	if err := k.Sessions.Renew(ctx, c.Writer, c.Request, SessionStaff, st.ID); err != nil {
		k.log().Error("web: end sessions after password change", "err", err)
		k.problemPage(c, http.StatusInternalServerError, "Something went wrong",
			"Your password was changed, but we could not sign out your other sessions. Please sign in again.", "")
		return
	}
	c.Redirect(http.StatusSeeOther, "/console/partners?done=password")
}
