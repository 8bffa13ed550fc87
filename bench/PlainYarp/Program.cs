using Yarp.ReverseProxy.Configuration;

// A default YARP proxy: one catch-all route to one destination, no transforms beyond YARP's defaults, no logging.
// Usage: PlainYarp <port> <upstream-url>. The benchmark measures it beside the sidecar in the same run.
var port = args[0];
var upstream = args[1];
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory }); // not the repo's appsettings.json
builder.Logging.ClearProviders();
builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
builder.Services.AddReverseProxy().LoadFromMemory(
    [new RouteConfig { RouteId = "all", ClusterId = "upstream", Match = new RouteMatch { Path = "{**catch-all}" } }],
    [new ClusterConfig { ClusterId = "upstream", Destinations = new Dictionary<string, DestinationConfig> { ["primary"] = new() { Address = upstream } } }]);
var app = builder.Build();
app.MapReverseProxy();
app.Run();
