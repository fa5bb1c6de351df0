// Hash routes: every screen lives at /portal/ itself, so a reload or a shared link needs nothing from the server.
import { createRouter, createWebHashHistory } from 'vue-router'
import SignIn from '@shared/SignIn.vue'
import { postJson, sendWithToken } from './api.js'
import { activeSession, isAdmin, session, signIn } from './session.js'
import Application from './views/Application.vue'
import CaseDetail from './views/CaseDetail.vue'
import Cases from './views/Cases.vue'
import Colleagues from './views/Colleagues.vue'
import Credentials from './views/Credentials.vue'
import Scorecard from './views/Scorecard.vue'
import Webhook from './views/Webhook.vue'

// The first sign-in of a portal account: the one-time activation code buys a password of the person's own.
function activate(username, activationCode, password) {
  return postJson('/v1/public/portal-activation', { username, activation_code: activationCode, password })
}

export const router = createRouter({
  history: createWebHashHistory(),
  routes: [
    { path: '/', redirect: '/cases' },
    { path: '/sign-in', component: SignIn, props: { signIn, home: '/cases', send: sendWithToken, activate },
      meta: { public: true } },
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
router.beforeEach(async (to) => {
  if (!to.meta.public && !session.current && !(await activeSession())) {
    return { path: '/sign-in', query: { next: to.fullPath } }
  }
  if (to.meta.admin && !isAdmin.value) return { path: '/cases' }
  return true
})
