from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("releases", views.ReleaseViewSet, basename="release")
router.register("software-library", views.ArtifactViewSet, basename="softwareartifact")
router.register("release-packages", views.PackageViewSet, basename="releasepackage")
router.register("deployment-targets", views.TargetViewSet, basename="deploymenttarget")

urlpatterns = router.urls
