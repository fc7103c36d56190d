using InfoBank.Server;
using InfoBank.Server.Infrastructure.Data;

var builder = WebApplication.CreateBuilder(args);
// Settings from the application's folder whatever the working folder is; --data <dir> above INFOBANK_DATA.
builder.Configuration.UseApplicationFolderSettings(builder.Environment.EnvironmentName).AddDataDirectoryArgument(args);
builder.AddInfoBank();

var app = builder.Build();
app.UseInfoBank();
await app.PrepareAsync();
await app.RunAsync();

/// <summary>Visible to WebApplicationFactory in the tests.</summary>
public partial class Program;
