; YAM Tray installer: per user (no admin rights), into %LOCALAPPDATA%\Programs\YAM Tray, with a
; Start menu shortcut, an optional "start at login", and an uninstaller that keeps settings
; and data unless asked. Built by `cargo xtask dist` (makensis, on Linux too), which defines
; VERSION, STAGE (the files to install), OUTFILE, ICON and COMPRESSOR.

Unicode true
; A 64-bit installer for a 64-bit app (and the only kind a Wine without 32-bit support runs).
Target amd64-unicode
SetCompressor /SOLID ${COMPRESSOR}

!define APP "YAM Tray"
!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\${APP}"
!define RUN_KEY "Software\Microsoft\Windows\CurrentVersion\Run"

Name "${APP} ${VERSION}"
OutFile "${OUTFILE}"
RequestExecutionLevel user
InstallDir "$LOCALAPPDATA\Programs\${APP}"
InstallDirRegKey HKCU "${UNINSTALL_KEY}" "InstallLocation"
BrandingText "${APP} ${VERSION}"

VIProductVersion "${VERSION}.0"
VIAddVersionKey "ProductName" "${APP}"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "FileDescription" "${APP} installer"
VIAddVersionKey "LegalCopyright" "MIT licence"

!include "MUI2.nsh"
!include "LogicLib.nsh"
!define MUI_ICON "${ICON}"
!define MUI_UNICON "${ICON}"
!define MUI_FINISHPAGE_RUN "$INSTDIR\yam-tray.exe"
!define MUI_FINISHPAGE_RUN_TEXT "Start ${APP} now"

!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_COMPONENTS
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_COMPONENTS
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

Section "${APP} (required)" SecApp
  SectionIn RO
  ; A running copy keeps its files open: ask it to quit first (its own Quit stops the server).
  nsExec::Exec 'taskkill /IM yam-tray.exe'
  Sleep 1000
  SetOutPath "$INSTDIR"
  File "${STAGE}\yam-tray.exe"
  File "${STAGE}\yam-server.exe"
  File "${STAGE}\yamctl.exe"
  File "${STAGE}\WebView2Loader.dll"
  File "${STAGE}\README.txt"
  File "${STAGE}\LICENSE.txt"
  File "${STAGE}\THIRD-PARTY-NOTICES.txt"
  WriteUninstaller "$INSTDIR\Uninstall.exe"
  CreateShortcut "$SMPROGRAMS\${APP}.lnk" "$INSTDIR\yam-tray.exe" "" "$INSTDIR\yam-tray.exe" 0
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayName" "${APP}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "Publisher" "YAM Tray"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayIcon" "$INSTDIR\yam-tray.exe"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\Uninstall.exe"'
  WriteRegStr HKCU "${UNINSTALL_KEY}" "QuietUninstallString" '"$INSTDIR\Uninstall.exe" /S'
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoRepair" 1
SectionEnd

; The app applies its own "Start at login" setting at every start; the installer sets it.
Section /o "Start ${APP} at login" SecAutostart
  nsExec::Exec '"$INSTDIR\yamctl.exe" set autostart true'
SectionEnd

Section "Uninstall"
  nsExec::Exec 'taskkill /IM yam-tray.exe'
  Sleep 1000
  Delete "$INSTDIR\yam-tray.exe"
  Delete "$INSTDIR\yam-server.exe"
  Delete "$INSTDIR\yamctl.exe"
  Delete "$INSTDIR\WebView2Loader.dll"
  Delete "$INSTDIR\README.txt"
  Delete "$INSTDIR\LICENSE.txt"
  Delete "$INSTDIR\THIRD-PARTY-NOTICES.txt"
  Delete "$INSTDIR\Uninstall.exe"
  RMDir "$INSTDIR"
  Delete "$SMPROGRAMS\${APP}.lnk"
  DeleteRegValue HKCU "${RUN_KEY}" "${APP}"
  DeleteRegKey HKCU "${UNINSTALL_KEY}"
SectionEnd

; Unchecked by default, and never in a silent uninstall: users, sessions, logs and settings
; stay for a later install.
Section /o "un.Also delete settings, users, sessions and logs" SecData
  RMDir /r "$APPDATA\YAM"
  RMDir /r "$LOCALAPPDATA\YAM"
SectionEnd
