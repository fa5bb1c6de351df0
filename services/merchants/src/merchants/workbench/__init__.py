"""The portal user's own view of the enterprise: who they are, the enrollment and the latest ODR application. It
composes portal accounts with applications, so it sits above both (applications stage the first portal admin)."""
