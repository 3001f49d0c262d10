; Inno Setup 6 script: the Windows installer of the Invigil player, made from the PyInstaller one-folder bundle.
;
; Build it on Windows, after `build\build.sh player` (Git Bash) has made dist-pyinstaller\invigil:
;   iscc /DAppVersion=0.1.0 packaging\windows\invigil.iss
; which writes dist-pyinstaller\invigil-setup-0.1.0.exe. AppVersion must be sync/version.py's VERSION
; (tests/build/test_installer_scripts.py keeps the default below equal to it); /DBundleDir=... names another bundle.
;
; Install on 30 machines without questions (from a deployment tool, as an administrator):
;   invigil-setup-0.1.0.exe /VERYSILENT /SUPPRESSMSGBOXES /NORESTART /CONFIG=\\fileserver\invigil\config.toml
;   /CONFIG=FILE    copied to C:\ProgramData\invigil\config.toml, the machine-wide settings the player reads
;                   (player/config.py: platformdirs' site config folder); a FILE that does not exist stops the
;                   install before anything is changed (exit code 1, and the reason in the /LOG file).
;                   Without /CONFIG an example file (every line a comment) is put there once, never over yours.
;   /TASKS=desktopicon  also a desktop shortcut (the Start menu one is always made); /TASKS="" for none
;   /DIR=PATH       install somewhere else than C:\Program Files\Invigil
;   /LOG=FILE       write what setup did to FILE
; Installing a new version over an old one (the same command) first deletes the old program files ([InstallDelete]).
; Uninstalling (Settings > Apps, or unins000.exe /VERYSILENT) removes the program and its shortcuts only: the
; students' data (%LOCALAPPDATA%\invigil of each account: answers not yet sent, logs) and the machine-wide
; config.toml stay.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#ifndef BundleDir
  #define BundleDir "..\..\dist-pyinstaller\invigil"
#endif

[Setup]
AppId={{3160C179-F02E-4901-8D61-9E161DAF2287}
AppName=Invigil
AppVersion={#AppVersion}
AppVerName=Invigil {#AppVersion}
AppPublisher=Invigil
VersionInfoVersion={#AppVersion}
DefaultDirName={autopf}\Invigil
DefaultGroupName=Invigil
DisableProgramGroupPage=yes
; Machine-wide: Program Files and ProgramData need an administrator.
PrivilegesRequired=admin
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\..\dist-pyinstaller
OutputBaseFilename=invigil-setup-{#AppVersion}
SetupIconFile=..\..\resources\icons\invigil.ico
UninstallDisplayIcon={app}\invigil.exe
UninstallDisplayName=Invigil {#AppVersion}
Compression=lzma2
SolidCompression=yes
WizardStyle=modern

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"

[InstallDelete]
; An upgrade first removes the previous version's program files: the bundle's files change names between versions
; (a library or Qt plugin of the old version left in _internal could be loaded by the new one). Only the bundle in
; {app} is named: never the data (%LOCALAPPDATA%\invigil), the machine-wide config ({commonappdata}\invigil), or
; the uninstaller (unins000.*, which setup updates itself). On a first install there is nothing to delete.
Type: filesandordirs; Name: "{app}\_internal"
Type: files; Name: "{app}\invigil.exe"

[Files]
Source: "{#BundleDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs
; The example machine-wide settings, only where there are none yet; kept on uninstall like the data.
Source: "config.toml"; DestDir: "{commonappdata}\invigil"; Flags: onlyifdoesntexist uninsneveruninstall

[Icons]
Name: "{autoprograms}\Invigil"; Filename: "{app}\invigil.exe"; Comment: "Sit school tests, and invigilate them"
Name: "{autodesktop}\Invigil"; Filename: "{app}\invigil.exe"; Tasks: desktopicon

[Run]
Filename: "{app}\invigil.exe"; Description: "{cm:LaunchProgram,Invigil}"; Flags: nowait postinstall skipifsilent

[Code]
const
  MachineConfig = '{commonappdata}\invigil\config.toml';

{ The /CONFIG=FILE command-line value, or '' when it was not given. }
function ConfigParam(): String;
begin
  Result := ExpandConstant('{param:CONFIG|}');
end;

{ Refuses a /CONFIG file that is not there before anything is installed (setup then exits with code 1). }
function InitializeSetup(): Boolean;
var
  Source: String;
begin
  Result := True;
  Source := ConfigParam();
  if (Source <> '') and not FileExists(Source) then
  begin
    Log('/CONFIG: ' + Source + ' does not exist');
    SuppressibleMsgBox('Invigil setup: the /CONFIG file ' + Source + ' does not exist. Give the full path of a ' +
      'config.toml (see docs/player-config.md). Nothing was installed.', mbCriticalError, MB_OK, IDOK);
    Result := False;
  end;
end;

{ After the files are in place: the /CONFIG file becomes the machine-wide config, over any earlier one. }
procedure CurStepChanged(CurStep: TSetupStep);
var
  Source, Target: String;
begin
  if CurStep <> ssPostInstall then
    exit;
  Source := ConfigParam();
  if Source = '' then
    exit;
  Target := ExpandConstant(MachineConfig);
  ForceDirectories(ExtractFileDir(Target));
  if not FileCopy(Source, Target, False) then
    RaiseException('Could not copy the /CONFIG file ' + Source + ' to ' + Target + '.');
  Log('/CONFIG: copied ' + Source + ' to ' + Target);
end;
