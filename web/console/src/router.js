// Hash routes: every screen lives at /console/ itself, so a reload or a shared link needs nothing from the server.
import { createRouter, createWebHashHistory } from 'vue-router'
import SignIn from '@shared/SignIn.vue'
import { sendWithToken } from './api.js'
import { activeSession, session, signIn } from './session.js'
import CaseDetail from './views/CaseDetail.vue'
import AuditChain from './views/audit/AuditChain.vue'
import AuditFigures from './views/audit/AuditFigures.vue'
import AuditQueue from './views/audit/AuditQueue.vue'
import AuditReview from './views/audit/AuditReview.vue'
import AuditThresholds from './views/audit/AuditThresholds.vue'
import Consultations from './views/Consultations.vue'
import Dashboard from './views/Dashboard.vue'
import Imports from './views/Imports.vue'
import Mediation from './views/Mediation.vue'
import Queue from './views/Queue.vue'
import Summary from './views/Summary.vue'
import MyAccount from './views/staff/MyAccount.vue'
import Staff from './views/staff/Staff.vue'
import OdrApplicationDetail from './views/odr/ApplicationDetail.vue'
import OdrApplications from './views/odr/Applications.vue'
import OdrEnterprises from './views/odr/Enterprises.vue'
import OdrProposals from './views/odr/Proposals.vue'
import OdrScorecards from './views/odr/Scorecards.vue'
import OdrStations from './views/odr/Stations.vue'

// The ODR-enterprise screens, each under the menu group `odr`.
const odrRoutes = [
  { path: '/odr/applications', component: OdrApplications,
    meta: { menu: 'odr-applications', crumbs: ['odr.menu.group', 'odr.menu.applications'] } },
  { path: '/odr/applications/:id', component: OdrApplicationDetail, props: true,
    meta: { menu: 'odr-applications', crumbs: ['odr.menu.group', 'odr.menu.applications', 'odr.menu.application'] } },
  { path: '/odr/enterprises', component: OdrEnterprises,
    meta: { menu: 'odr-enterprises', crumbs: ['odr.menu.group', 'odr.menu.enterprises'] } },
  { path: '/odr/scorecards', component: OdrScorecards,
    meta: { menu: 'odr-scorecards', crumbs: ['odr.menu.group', 'odr.menu.scorecards'] } },
  { path: '/odr/proposals', component: OdrProposals,
    meta: { menu: 'odr-proposals', crumbs: ['odr.menu.group', 'odr.menu.proposals'] } },
  { path: '/odr/stations', component: OdrStations,
    meta: { menu: 'odr-stations', crumbs: ['odr.menu.group', 'odr.menu.stations'] } },
]

export const router = createRouter({
  history: createWebHashHistory(),
  routes: [
    { path: '/', redirect: '/queue' },
    { path: '/sign-in', component: SignIn, props: { signIn, home: '/queue', send: sendWithToken },
      meta: { public: true } },
    { path: '/queue', component: Queue, meta: { menu: 'queue', crumbs: ['menu.queue'] } },
    { path: '/cases/:id', component: CaseDetail, props: true,
      meta: { menu: 'queue', crumbs: ['menu.queue', 'detail.title'] } },
    { path: '/mediation/:id', component: Mediation, props: true,
      meta: { menu: 'queue', crumbs: ['menu.queue', 'mediation.title'] } },
    { path: '/dashboard', component: Dashboard, meta: { menu: 'dashboard', crumbs: ['menu.dashboard'] } },
    // The audit section: one screen per task, each its own menu item under 审计核验.
    { path: '/audit', redirect: '/audit/queue' },
    { path: '/audit/queue', component: AuditQueue,
      meta: { menu: 'audit-queue', crumbs: ['menu.audit', 'auditMenu.queue'] } },
    { path: '/audit/reviews/:id', component: AuditReview, props: true,
      meta: { menu: 'audit-queue', crumbs: ['menu.audit', 'auditMenu.queue', 'outcomeAudit.reviewTitle'] } },
    { path: '/audit/thresholds', component: AuditThresholds,
      meta: { menu: 'audit-thresholds', crumbs: ['menu.audit', 'auditMenu.thresholds'] } },
    { path: '/audit/figures', component: AuditFigures,
      meta: { menu: 'audit-figures', crumbs: ['menu.audit', 'auditMenu.figures'] } },
    { path: '/audit/chain', component: AuditChain,
      meta: { menu: 'audit-chain', crumbs: ['menu.audit', 'auditMenu.chain'] } },
    ...odrRoutes,
    { path: '/staff', component: Staff, meta: { menu: 'staff', crumbs: ['staffMenu.staff'] } },
    { path: '/account', component: MyAccount, meta: { menu: 'account', crumbs: ['staffMenu.account'] } },
    { path: '/summary', component: Summary, meta: { menu: 'summary', crumbs: ['workMenu.summary'] } },
    { path: '/consultations', component: Consultations,
      meta: { menu: 'consultations', crumbs: ['workMenu.consultations'] } },
    { path: '/imports', component: Imports, meta: { menu: 'imports', crumbs: ['workMenu.imports'] } },
    { path: '/:rest(.*)', redirect: '/queue' },
  ],
})

// Signed out: to the form, remembering where the user was going (a deep link survives the sign-in). A new tab of a
// browser that holds the session cookie is signed in silently first.
router.beforeEach(async (to) => {
  if (to.meta.public || session.current || (await activeSession())) return true
  return { path: '/sign-in', query: { next: to.fullPath } }
})
