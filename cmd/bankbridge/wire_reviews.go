package main

import (
	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/monitoring"
	"github.com/bankbridge/bankbridge/monitoring/reviews"
	"github.com/bankbridge/bankbridge/web"
)

// reviewService builds the performance reviews (monitoring/reviews: figures
// from monitoring, statements from contracts, staff and the risk rating
// from partners, complaint counts from complaints). Every collaborator exists by now, so reviews.New cannot
// refuse them.
func (p *Platform) reviewService() *reviews.Service {
	s := &p.Services
	svc, err := reviews.New(reviews.Config{Store: reviews.NewGormStore(p.DB),
		Figures: monitoring.New(monitoring.NewGormStore(p.DB), nil), Statements: p.billing.Contracts,
		Staff: s.Partners.Staff(), Partners: s.Partners, Complaints: s.Complaints})
	if err != nil {
		panic("wire: " + err.Error())
	}
	return svc
}

// mountReviews registers the reviews' console and portal pages.
func (p *Platform) mountReviews(r *gin.Engine, svc *reviews.Service, console *web.Console, portal *web.Portal) {
	(&web.ConsoleReviews{Console: console, Reviews: svc}).Register(r)
	(&web.PortalReviews{Portal: portal, Reviews: svc}).Register(r)
}
