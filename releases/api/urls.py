from rest_framework.routers import SimpleRouter

from . import library, targets, views

router = SimpleRouter()
router.register("releases", views.ReleaseViewSet, basename="release")
router.register("software-library", library.ArtifactViewSet, basename="softwareartifact")
router.register("release-packages", library.PackageViewSet, basename="releasepackage")
router.register("deployment-targets", targets.TargetViewSet, basename="deploymenttarget")

urlpatterns = router.urls
