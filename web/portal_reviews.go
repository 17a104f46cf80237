package web

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/monitoring/reviews"
)

// PortalReviews shows a partner's members its published performance
// reviews (scorecard, ratings, outcome and the notes meant for the partner;
// never the internal notes, which reviews.PartnerReview does not carry).
// Drafts, submitted reviews and other partners' reviews are 404 pages.
type PortalReviews struct {
	Portal  *Portal
	Reviews *reviews.Service
}

// Register mounts the pages under /portal/orgs/:pid/reviews.
func (p *PortalReviews) Register(r gin.IRouter) {
	o := r.Group("/portal/orgs/:pid/reviews")
	o.GET("", p.list)
	o.GET("/:rid", p.detail)
}

type portalReviewsData struct {
	*orgView
	Reviews []reviews.PartnerReview
}

func (p *PortalReviews) list(c *gin.Context) {
	u, o, ok := p.Portal.org(c, "Reviews")
	if !ok {
		return
	}
	list, err := p.Reviews.Published(c.Request.Context(), o.Partner.ID)
	if err != nil {
		status, msg := refusal(p.Portal.log(), "reviews", err)
		p.Portal.problemPage(c, status, titleFor(status), msg, u.Email)
		return
	}
	p.Portal.page(c, http.StatusOK, "portal/reviews", Page{Title: "Performance reviews", User: u.Email,
		Data: portalReviewsData{orgView: o, Reviews: list}})
}

type portalReviewData struct {
	*orgView
	Review       *reviews.PartnerReview
	Scorecard    scorecardView
	Ratings      []ratingRow
	OutcomeLabel string
}

func (p *PortalReviews) detail(c *gin.Context) {
	u, o, ok := p.Portal.org(c, "Reviews")
	if !ok {
		return
	}
	r, err := p.Reviews.PublishedReview(c.Request.Context(), o.Partner.ID, c.Param("rid"))
	if err != nil {
		status, msg := refusal(p.Portal.log(), "review", err)
		p.Portal.problemPage(c, status, titleFor(status), msg, u.Email)
		return
	}
	p.Portal.page(c, http.StatusOK, "portal/review", Page{Title: "Performance review " + r.Quarter, User: u.Email,
		Data: portalReviewData{orgView: o, Review: r, Scorecard: scorecardView{&r.Scorecard}, Ratings: ratingRows(r.Ratings),
			OutcomeLabel: outcomeLabels[r.Outcome]}})
}
