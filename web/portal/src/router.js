// Hash routes: every screen lives at /portal/ itself, so a reload or a shared link needs nothing from the server.
import { createRouter, createWebHashHistory } from 'vue-router'
import { isAdmin, session } from './session.js'
import Application from './views/Application.vue'
import CaseDetail from './views/CaseDetail.vue'
import Cases from './views/Cases.vue'
import Colleagues from './views/Colleagues.vue'
import Credentials from './views/Credentials.vue'
import Scorecard from './views/Scorecard.vue'
import SignIn from './views/SignIn.vue'
import Webhook from './views/Webhook.vue'

export const router = createRouter({
  history: createWebHashHistory(),
  routes: [
    { path: '/', redirect: '/cases' },
    { path: '/sign-in', component: SignIn, meta: { public: true } },
    { path: '/cases', component: Cases, meta: { menu: 'cases', crumbs: ['menu.cases'] } },
    { path: '/cases/:id', component: CaseDetail, props: true,
      meta: { menu: 'cases', crumbs: ['menu.cases', 'detail.title'] } },
    { path: '/scorecard', component: Scorecard, meta: { menu: 'scorecard', crumbs: ['menu.scorecard'] } },
    { path: '/webhook', component: Webhook, meta: { menu: 'webhook', crumbs: ['menu.webhook'] } },
    { path: '/credentials', component: Credentials, meta: { menu: 'credentials', crumbs: ['menu.credentials'] } },
    { path: '/application', component: Application, meta: { menu: 'application', crumbs: ['menu.application'] } },
    { path: '/colleagues', component: Colleagues, meta: { menu: 'colleagues', crumbs: ['menu.colleagues'], admin: true } },
    { path: '/:rest(.*)', redirect: '/cases' },
  ],
})

// Signed out: to the form, remembering where the user was going (a deep link survives the sign-in). Screens for the
// admin alone are not offered to agents (the API refuses them anyway).
router.beforeEach((to) => {
  if (!to.meta.public && !session.current) return { path: '/sign-in', query: { next: to.fullPath } }
  if (to.meta.admin && !isAdmin.value) return { path: '/cases' }
  return true
})
