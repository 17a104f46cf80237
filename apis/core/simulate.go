package core

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"time"
)

// The history generator: it lives a customer's year day by day and books what
// a real account would show (salary, rent, bills, groceries, travel, meals out,
// subscriptions, cash, refunds, transfers to savings, card spending and the
// card's monthly repayment), keeping a running balance per account so every
// entry's BalanceAfter chains to the next and the last equals the account's
// balance. A debit the account cannot cover (balance + credit line) is simply
// not made, as a real bank would decline it.

// idAlphabet is the alphabet of ids.New, so seeded ids look like random ones.
const idAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// detID draws an id shaped like ids.New(prefix) from rng (deterministic seeding).
func detID(rng *rand.Rand, prefix string) string {
	b := make([]byte, 26)
	for i := range b {
		b[i] = idAlphabet[rng.IntN(32)]
	}
	return prefix + "_" + string(b)
}

// profile is how one customer lives, for the generator.
type profile struct {
	salary       int64 // monthly net pay (0: none)
	employer     string
	payday       int   // day of month
	rent         int64 // monthly rent (0: none)
	landlord     string
	spendBps     int64 // spending level, 10000 = typical
	saveMonthly  int64 // standing order to savings the day after payday
	cardShareBps int64 // share of discretionary card spending put on the credit card
	// targetCurrent, when set, is where the current account must end (a final
	// transfer in or out gets it there).
	targetCurrent *int64
	// closeSavingsAt closes the savings account (balance swept to current).
	closeSavingsAt time.Time
	// blockCurrentAt blocks the current account (nothing is booked after).
	blockCurrentAt time.Time
}

// simAccount is one account being generated.
type simAccount struct {
	row   accountRow
	floor int64 // lowest balance allowed (minus the credit line)
	txns  []transactionRow
}

type simulator struct {
	rng   *rand.Rand
	until time.Time // nothing is booked at or after this instant
}

type entry struct {
	at          time.Time
	amount      int64
	cd          string
	method      string
	category    string
	merchant    string
	mcc         string
	description string
	reference   string
	cpName      string
	cpScheme    string
	cpID        string
}

// post books e on a if allowed (open, enabled, before until, covered).
func (s *simulator) post(a *simAccount, e entry) bool {
	if a == nil || a.row.Status != AccountEnabled || e.amount <= 0 || !e.at.Before(s.until) || e.at.Before(a.row.OpenedAt) {
		return false
	}
	bal := a.row.BalanceMinor
	if e.cd == Debit {
		if bal-e.amount < a.floor {
			return false
		}
		bal -= e.amount
	} else {
		bal += e.amount
	}
	a.row.BalanceMinor = bal
	a.row.TxnSeq++
	a.row.LastBookedAt = e.at
	a.txns = append(a.txns, transactionRow{
		ID: detID(s.rng, "txn"), AccountID: a.row.ID, Seq: a.row.TxnSeq, BookedAt: e.at, ValueAt: e.at,
		AmountMinor: e.amount, Currency: a.row.Currency, CreditDebit: e.cd, Status: StatusBooked,
		Method: e.method, Category: e.category, MerchantName: e.merchant, MerchantCategoryCode: e.mcc,
		Description: e.description, Reference: e.reference, CounterpartyName: e.cpName,
		CounterpartyScheme: e.cpScheme, CounterpartyIdentification: e.cpID, BalanceAfterMinor: bal,
	})
	return true
}

// transfer moves amount between two accounts of the customer, both sides or neither.
func (s *simulator) transfer(from, to *simAccount, at time.Time, amount int64, method, reference string) {
	if from == nil || to == nil || from.row.Status != AccountEnabled || to.row.Status != AccountEnabled || amount <= 0 || from.row.BalanceMinor-amount < from.floor ||
		!at.Before(s.until) || at.Before(from.row.OpenedAt) || at.Before(to.row.OpenedAt) {
		return
	}
	s.post(from, entry{at: at, amount: amount, cd: Debit, method: method, category: CategoryTransfers,
		description: "Transfer to " + to.row.Nickname, reference: reference, cpName: to.row.HolderName,
		cpScheme: to.row.SchemeName, cpID: to.row.Identification})
	s.post(to, entry{at: at, amount: amount, cd: Credit, method: method, category: CategoryTransfers,
		description: "Transfer from " + from.row.Nickname, reference: reference, cpName: from.row.HolderName,
		cpScheme: from.row.SchemeName, cpID: from.row.Identification})
}

// between returns a random amount in [lo, hi] pence scaled by bps/10000.
func (s *simulator) between(lo, hi, bps int64) int64 {
	v := lo + s.rng.Int64N(hi-lo+1)
	return v * bps / 10000
}

func (s *simulator) chance(percentTenths int) bool { return s.rng.IntN(1000) < percentTenths }

func (s *simulator) at(day time.Time, fromHour, toHour int) time.Time {
	secs := fromHour*3600 + s.rng.IntN((toHour-fromHour)*3600)
	return day.Add(time.Duration(secs) * time.Second)
}

type merchant struct {
	name, mcc, category string
	lo, hi              int64 // pence
}

var (
	grocers = []merchant{
		{"Tesco", "5411", CategoryGroceries, 600, 8500}, {"Sainsbury's", "5411", CategoryGroceries, 800, 9200},
		{"Lidl", "5411", CategoryGroceries, 500, 5500}, {"Aldi", "5411", CategoryGroceries, 500, 6000},
		{"Waitrose", "5411", CategoryGroceries, 900, 7500}, {"M&S Food", "5411", CategoryGroceries, 400, 3500},
		{"Co-op Food", "5411", CategoryGroceries, 300, 2500},
	}
	commute = []merchant{
		{"TfL Travel Charge", "4111", CategoryTransport, 280, 810},
	}
	travel = []merchant{
		{"Trainline", "4112", CategoryTravel, 1800, 9500}, {"Uber", "4121", CategoryTransport, 700, 2600},
		{"Shell", "5541", CategoryTransport, 3000, 7000}, {"National Express", "4131", CategoryTravel, 900, 3500},
	}
	coffee = []merchant{
		{"Pret A Manger", "5814", CategoryEatingOut, 280, 950}, {"Costa Coffee", "5814", CategoryEatingOut, 250, 700},
		{"Greggs", "5814", CategoryEatingOut, 180, 650},
	}
	restaurants = []merchant{
		{"Nando's", "5812", CategoryEatingOut, 1400, 4200}, {"Dishoom", "5812", CategoryEatingOut, 3000, 8500},
		{"Wagamama", "5812", CategoryEatingOut, 1500, 4800}, {"Deliveroo", "5812", CategoryEatingOut, 1500, 4500},
		{"The Crown & Anchor", "5813", CategoryEatingOut, 900, 5500},
	}
	fun = []merchant{
		{"Vue Cinemas", "7832", CategoryEntertainment, 1200, 3200}, {"Ticketmaster", "7922", CategoryEntertainment, 3500, 12000},
		{"Steam", "5816", CategoryEntertainment, 500, 5000},
	}
	shops = []merchant{
		{"Amazon", "5999", CategoryShopping, 800, 6500}, {"Boots", "5912", CategoryHealth, 400, 2800},
		{"John Lewis", "5311", CategoryShopping, 2000, 15000}, {"Uniqlo", "5651", CategoryShopping, 1500, 8000},
		{"Argos", "5311", CategoryShopping, 1000, 9000}, {"IKEA", "5712", CategoryShopping, 1500, 18000},
	}
	subscriptions = []struct {
		merchant
		day int
	}{
		{merchant{"Netflix", "4899", CategorySubscriptions, 1099, 1099}, 3},
		{merchant{"Spotify", "5815", CategorySubscriptions, 1199, 1199}, 17},
		{merchant{"Apple iCloud", "5818", CategorySubscriptions, 299, 299}, 9},
	}
)

// card pays at m on a.
func (s *simulator) card(a *simAccount, at time.Time, m merchant, bps int64) {
	s.post(a, entry{at: at, amount: s.between(m.lo, m.hi, bps), cd: Debit, method: MethodCard,
		category: m.category, merchant: m.name, mcc: m.mcc, description: "Card payment to " + m.name})
}

func pick(rng *rand.Rand, ms []merchant) merchant { return ms[rng.IntN(len(ms))] }

// externalAccount draws a sort code and account number at another bank.
func externalAccount(rng *rand.Rand) string {
	return fmt.Sprintf("%02d%04d%08d", 10+rng.IntN(89), rng.IntN(10000), rng.IntN(100000000))
}

// live generates the customer's history from start (a midnight UTC) to s.until.
func (s *simulator) live(p profile, current, savings, creditCard *simAccount, start time.Time) {
	employerAcc, landlordAcc := externalAccount(s.rng), externalAccount(s.rng)
	utilityRef := fmt.Sprintf("%08d", s.rng.IntN(100000000))
	bps := p.spendBps
	disc := func(day time.Time) *simAccount { // where discretionary card spending goes
		if creditCard != nil && int64(s.rng.IntN(10000)) < p.cardShareBps {
			return creditCard
		}
		return current
	}
	until := s.until
	if p.targetCurrent != nil {
		s.until = until.Add(-2 * time.Hour) // room for the final adjustment
	}
	for day := start; day.Before(s.until); day = day.AddDate(0, 0, 1) {
		type due struct {
			at time.Time
			f  func()
		}
		var todays []due
		add := func(at time.Time, f func()) { todays = append(todays, due{at, f}) }
		dom, wd := day.Day(), day.Weekday()
		weekend := wd == time.Saturday || wd == time.Sunday

		// Income.
		if p.salary > 0 && dom == p.payday {
			at := day.Add(6*time.Hour + time.Duration(s.rng.IntN(1800))*time.Second)
			pay := p.salary + s.between(0, p.salary/40, 10000) // overtime varies
			add(at, func() {
				s.post(current, entry{at: at, amount: pay, cd: Credit, method: MethodBankCredit, category: CategorySalary,
					description: p.employer + " salary", reference: "SALARY " + day.Format("Jan 2006"), cpName: p.employer,
					cpScheme: SchemeSortCodeAccountNumber, cpID: employerAcc})
			})
		}
		// Fixed outgoings.
		if p.rent > 0 && dom == 1 {
			at := day.Add(9 * time.Hour)
			add(at, func() {
				s.post(current, entry{at: at, amount: p.rent, cd: Debit, method: MethodStandingOrder, category: CategoryRent,
					description: "Rent " + day.Format("January"), reference: "RENT", cpName: p.landlord,
					cpScheme: SchemeSortCodeAccountNumber, cpID: landlordAcc})
			})
		}
		bills := []struct {
			day         int
			name, mcc   string
			lo, hi      int64
			category    string
			monthsOnly  func(time.Month) bool
			seasonalBps func(time.Month) int64
		}{
			{5, "Octopus Energy", "4900", 6500, 8000, CategoryUtilities, nil, func(m time.Month) int64 {
				if m >= time.November || m <= time.February {
					return 16000
				}
				return 10000
			}},
			{12, "Thames Water", "4900", 3400, 3900, CategoryUtilities, nil, nil},
			{15, "London Borough Council Tax", "9311", 14200, 14200, CategoryUtilities, func(m time.Month) bool {
				return m >= time.April || m <= time.January
			}, nil},
			{20, "Vodafone", "4814", 1800, 2600, CategoryUtilities, nil, nil},
			{8, "BT Broadband", "4814", 3500, 3500, CategoryUtilities, nil, nil},
			{2, "PureGym", "7997", 2499, 2499, CategoryEntertainment, nil, nil},
		}
		for _, b := range bills {
			if dom != b.day || (b.monthsOnly != nil && !b.monthsOnly(day.Month())) {
				continue
			}
			amount := s.between(b.lo, b.hi, 10000)
			if b.seasonalBps != nil {
				amount = amount * b.seasonalBps(day.Month()) / 10000
			}
			at := day.Add(4*time.Hour + time.Duration(s.rng.IntN(3600))*time.Second)
			b := b
			add(at, func() {
				s.post(current, entry{at: at, amount: amount, cd: Debit, method: MethodDirectDebit, category: b.category,
					merchant: b.name, mcc: b.mcc, description: "Direct debit " + b.name, reference: utilityRef,
					cpName: b.name, cpScheme: SchemeSortCodeAccountNumber, cpID: externalAccountFor(b.name)})
			})
		}
		for _, sub := range subscriptions {
			if dom == sub.day {
				sub, at := sub, s.at(day, 1, 5)
				add(at, func() { s.card(disc(day), at, sub.merchant, 10000) })
			}
		}
		// Everyday spending.
		if s.chance(map[bool]int{false: 380, true: 650}[weekend]) {
			m, at := pick(s.rng, grocers), s.at(day, 8, 21)
			scale := bps
			if weekend {
				scale = bps * 14 / 10
			}
			add(at, func() { s.card(current, at, m, scale) })
		}
		if !weekend && s.chance(800) {
			at := s.at(day, 7, 9)
			add(at, func() { s.card(current, at, commute[0], 10000) })
		}
		if s.chance(60) {
			m, at := pick(s.rng, travel), s.at(day, 7, 22)
			add(at, func() { s.card(disc(day), at, m, bps) })
		}
		if !weekend && s.chance(450) {
			m, at := pick(s.rng, coffee), s.at(day, 7, 14)
			add(at, func() { s.card(current, at, m, bps) })
		}
		if s.chance(map[bool]int{false: 90, true: 450}[weekend]) {
			m, at := pick(s.rng, restaurants), s.at(day, 12, 23)
			add(at, func() { s.card(disc(day), at, m, bps) })
		}
		if s.chance(50) {
			m, at := pick(s.rng, fun), s.at(day, 10, 23)
			add(at, func() { s.card(disc(day), at, m, bps) })
		}
		if s.chance(130) {
			m, at := pick(s.rng, shops), s.at(day, 9, 22)
			add(at, func() { s.card(disc(day), at, m, bps) })
		}
		if s.chance(35) {
			at := s.at(day, 9, 22)
			amount := []int64{2000, 4000, 6000, 10000}[s.rng.IntN(4)]
			add(at, func() {
				s.post(current, entry{at: at, amount: amount, cd: Debit, method: MethodCashWithdrawal, category: CategoryCash,
					merchant: "LINK ATM", mcc: "6011", description: "Cash withdrawal"})
			})
		}
		if s.chance(15) {
			m, at := shops[0], s.at(day, 9, 22)
			amount := s.between(800, 4000, 10000)
			to := disc(day)
			add(at, func() {
				s.post(to, entry{at: at, amount: amount, cd: Credit, method: MethodRefund, category: CategoryRefund,
					merchant: m.name, mcc: m.mcc, description: "Refund from " + m.name})
			})
		}
		if creditCard != nil && dom == 1 && day.Month() == time.July {
			at := s.at(day, 9, 22)
			add(at, func() {
				s.card(creditCard, at, merchant{"British Airways", "3009", CategoryTravel, 18000, 42000}, 10000)
			})
		}
		// Money between the customer's own accounts.
		if savings != nil && p.saveMonthly > 0 && dom == p.payday%28+1 {
			at := day.Add(8 * time.Hour)
			amount := p.saveMonthly
			add(at, func() { s.transfer(current, savings, at, amount, MethodStandingOrder, "SAVINGS") })
		}
		if savings != nil && dom == 1 {
			at := day.Add(2 * time.Hour)
			add(at, func() {
				interest := savings.row.BalanceMinor * 325 / 12 / 10000 // 3.25% AER, monthly
				s.post(savings, entry{at: at, amount: interest, cd: Credit, method: MethodInterest, category: CategoryInterest,
					description: "Interest paid"})
			})
		}
		if creditCard != nil && dom == 22 {
			at := day.Add(10 * time.Hour)
			add(at, func() {
				owed := -creditCard.row.BalanceMinor
				s.transfer(current, creditCard, at, owed, MethodDirectDebit, "CARD REPAYMENT")
			})
		}
		if savings != nil && !p.closeSavingsAt.IsZero() && day.Equal(p.closeSavingsAt) {
			at := day.Add(11 * time.Hour)
			add(at, func() {
				s.transfer(savings, current, at, savings.row.BalanceMinor, MethodTransfer, "ACCOUNT CLOSURE")
				savings.row.Status, savings.row.StatusUpdatedAt = AccountClosed, at
				savings.row.LastBookedAt = at
				savings.floor = 0
			})
		}
		// Book the day's entries in time order (each decision sees the balance
		// as it stands at that moment).
		sort.SliceStable(todays, func(x, y int) bool { return todays[x].at.Before(todays[y].at) })
		for _, d := range todays {
			d.f()
		}
		if !p.blockCurrentAt.IsZero() && day.Equal(p.blockCurrentAt) {
			current.row.Status, current.row.StatusUpdatedAt = AccountBlocked, day.Add(23*time.Hour+30*time.Minute) // after the day's last entry
		}
	}
	s.until = until
	if p.targetCurrent != nil {
		at := s.until.Add(-90 * time.Minute).Truncate(time.Second)
		diff := current.row.BalanceMinor - *p.targetCurrent
		switch {
		case diff > 0:
			s.post(current, entry{at: at, amount: diff, cd: Debit, method: MethodFasterPayment, category: CategoryTransfers,
				description: "Transfer to J Smith", reference: "THANKS", cpName: "J Smith",
				cpScheme: SchemeSortCodeAccountNumber, cpID: externalAccount(s.rng)})
		case diff < 0:
			s.post(current, entry{at: at, amount: -diff, cd: Credit, method: MethodFasterPayment, category: CategoryTransfers,
				description: "Transfer from J Smith", reference: "LOAN", cpName: "J Smith",
				cpScheme: SchemeSortCodeAccountNumber, cpID: externalAccount(s.rng)})
		}
	}
}

// externalAccountFor gives a stable sort code and account number to a named biller.
func externalAccountFor(name string) string {
	var h uint64 = 1469598103934665603
	for i := 0; i < len(name); i++ {
		h = (h ^ uint64(name[i])) * 1099511628211
	}
	return fmt.Sprintf("%02d%04d%08d", 10+h%89, (h/89)%10000, (h/890000)%100000000)
}
