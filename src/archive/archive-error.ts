/**
 * The one error an archive import or export refuses with: a sentence for the operator (what is
 * wrong with which entry), printed by the CLI as it is. Nothing is committed when it is thrown
 * during an import (see archive-import.ts).
 */
export class ArchiveError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArchiveError';
  }
}
