package apis

import "github.com/gin-gonic/gin"

// CallOf tells the platform's telemetry about the partner API call of c:
// the calling partner and app (once its access token was verified; empty
// before), the metered product and the problem code the call was refused
// with (empty when it was not, e.g. rate_limited or quota_exhausted).
func CallOf(c *gin.Context) (partnerID, appID, product, problemCode string) {
	if ac := accessOf(c); ac != nil {
		partnerID, appID = ac.PartnerID, ac.ClientID
	}
	return partnerID, appID, c.GetString(keyProduct), c.GetString(keyProblem)
}
