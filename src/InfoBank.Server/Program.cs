using InfoBank.Server;
using InfoBank.Server.Infrastructure.Data;

// Settings are read once at start (see UseApplicationFolderSettings), so the host does not watch them either.
var builder = WebApplication.CreateBuilder([.. args, "--hostBuilder:reloadConfigOnChange=false"]);
// Settings from the application's folder whatever the working folder is; --data <dir> above INFOBANK_DATA.
builder.Configuration.UseApplicationFolderSettings(builder.Environment.EnvironmentName).AddDataDirectoryArgument(args);
builder.AddInfoBank();

var app = builder.Build();
app.UseInfoBank();
await app.PrepareAsync();
await app.RunAsync();

/// <summary>Visible to WebApplicationFactory in the tests.</summary>
public partial class Program;
