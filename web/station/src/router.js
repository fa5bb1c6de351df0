// Hash routes: every screen lives at /station/ itself, so a reload or a shared link needs nothing from the server.
import { createRouter, createWebHashHistory } from 'vue-router'
import SignIn from '@shared/SignIn.vue'
import { sendWithToken } from './api.js'
import { activeSession, session, signIn } from './session.js'
import CaseDetail from './views/CaseDetail.vue'
import Cases from './views/Cases.vue'
import Figures from './views/Figures.vue'
import FileComplaint from './views/FileComplaint.vue'

export const router = createRouter({
  history: createWebHashHistory(),
  routes: [
    { path: '/', redirect: '/file' },
    { path: '/sign-in', component: SignIn, props: { signIn, home: '/file', send: sendWithToken },
      meta: { public: true } },
    { path: '/file', component: FileComplaint, meta: { menu: 'file', crumbs: ['menu.file'] } },
    { path: '/cases', component: Cases, meta: { menu: 'cases', crumbs: ['menu.cases'] } },
    { path: '/cases/:id', component: CaseDetail, props: true,
      meta: { menu: 'cases', crumbs: ['menu.cases', 'detail.title'] } },
    { path: '/figures', component: Figures, meta: { menu: 'figures', crumbs: ['menu.figures'] } },
    { path: '/:rest(.*)', redirect: '/file' },
  ],
})

// Signed out: to the form, remembering where the user was going (a deep link survives the sign-in).
router.beforeEach(async (to) => {
  if (to.meta.public || session.current || (await activeSession())) return true
  return { path: '/sign-in', query: { next: to.fullPath } }
})
