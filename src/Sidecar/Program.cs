using InferenceSidecar.Hosting;

var app = SidecarApplication.Create(args);
app.Run();
