// electron-builder afterPack hook (electron-builder.yml): flips Electron's fuses in the packaged
// binary before it is wrapped into the AppImage / .deb, so the shipped app
//   - cannot be run as a plain Node (RunAsNode off: ELECTRON_RUN_AS_NODE is ignored),
//   - ignores NODE_OPTIONS and --inspect* arguments (no code injection through the environment),
//   - encrypts its cookie store at rest,
//   - loads its code only from app.asar (OnlyLoadAppFromAsar),
//   - gives file:// no extra privileges (the renderer is served from app://).
// The engine runs as Electron's utilityProcess, which needs none of the fuses turned off here.
import path from 'node:path';
import { flipFuses, FuseV1Options, FuseVersion } from '@electron/fuses';

/** The fuse settings of the packaged app (tests/electron/packaging.test.ts checks and applies them). */
export const FUSES = {
  version: FuseVersion.V1,
  [FuseV1Options.RunAsNode]: false,
  [FuseV1Options.EnableCookieEncryption]: true,
  [FuseV1Options.EnableNodeOptionsEnvironmentVariable]: false,
  [FuseV1Options.EnableNodeCliInspectArguments]: false,
  [FuseV1Options.OnlyLoadAppFromAsar]: true,
  [FuseV1Options.GrantFileProtocolExtraPrivileges]: false,
};

/** The Electron executable electron-builder just packed (Linux, Windows; a macOS .app bundle). */
export function electronBinary(context) {
  const name = context.packager.executableName ?? context.packager.appInfo.productFilename;
  switch (context.electronPlatformName) {
    case 'darwin':
    case 'mas':
      return path.join(context.appOutDir, `${context.packager.appInfo.productFilename}.app`);
    case 'win32':
      return path.join(context.appOutDir, `${name}.exe`);
    default:
      return path.join(context.appOutDir, name);
  }
}

export async function afterPack(context) {
  const binary = electronBinary(context);
  const flipped = await flipFuses(binary, { ...FUSES, resetAdHocDarwinSignature: context.electronPlatformName === 'darwin' && context.arch === 3 /* arm64 */ });
  console.log(`  • fuses flipped in ${binary} (${flipped} wire${flipped === 1 ? '' : 's'})`);
}

export default afterPack;
