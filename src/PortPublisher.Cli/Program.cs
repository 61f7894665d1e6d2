return await PortPublisher.Cli.CliApp.RunConsoleAsync(args);
