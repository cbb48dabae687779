from rest_framework.routers import SimpleRouter

from . import targets, views

router = SimpleRouter()
router.register("releases", views.ReleaseViewSet, basename="release")
router.register("software-library", views.ArtifactViewSet, basename="softwareartifact")
router.register("release-packages", views.PackageViewSet, basename="releasepackage")
router.register("deployment-targets", targets.TargetViewSet, basename="deploymenttarget")

urlpatterns = router.urls
