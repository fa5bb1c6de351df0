// Hash routes: every screen lives at /console/ itself, so a reload or a shared link needs nothing from the server.
import { createRouter, createWebHashHistory } from 'vue-router'
import { activeSession, session } from './session.js'
import Audit from './views/Audit.vue'
import CaseDetail from './views/CaseDetail.vue'
import Dashboard from './views/Dashboard.vue'
import Mediation from './views/Mediation.vue'
import Queue from './views/Queue.vue'
import SignIn from './views/SignIn.vue'

export const router = createRouter({
  history: createWebHashHistory(),
  routes: [
    { path: '/', redirect: '/queue' },
    { path: '/sign-in', component: SignIn, meta: { public: true } },
    { path: '/queue', component: Queue, meta: { menu: 'queue', crumbs: ['menu.queue'] } },
    { path: '/cases/:id', component: CaseDetail, props: true,
      meta: { menu: 'queue', crumbs: ['menu.queue', 'detail.title'] } },
    { path: '/mediation/:id', component: Mediation, props: true,
      meta: { menu: 'queue', crumbs: ['menu.queue', 'mediation.title'] } },
    { path: '/dashboard', component: Dashboard, meta: { menu: 'dashboard', crumbs: ['menu.dashboard'] } },
    { path: '/audit', component: Audit, meta: { menu: 'audit', crumbs: ['menu.audit'] } },
    { path: '/:rest(.*)', redirect: '/queue' },
  ],
})

// Signed out: to the form, remembering where the user was going (a deep link survives the sign-in). A new tab of a
// browser that holds the session cookie is signed in silently first.
router.beforeEach(async (to) => {
  if (to.meta.public || session.current || (await activeSession())) return true
  return { path: '/sign-in', query: { next: to.fullPath } }
})
