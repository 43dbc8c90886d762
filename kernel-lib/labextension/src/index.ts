/**
 * winlake-lakehouse: a JupyterLab 4 plugin that adds the Lakehouse panel to the left side bar and
 * inserts its ready cells into the active notebook.
 */
import { ILayoutRestorer, type JupyterFrontEnd, type JupyterFrontEndPlugin } from '@jupyterlab/application';
import { INotebookTracker, NotebookActions } from '@jupyterlab/notebook';
import { LabIcon } from '@jupyterlab/ui-components';
import { LakehousePanel } from './panel';

/** A database drum: the panel's tab in the side bar. */
const lakehouseIcon = new LabIcon({
  name: 'winlake:lakehouse',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><g class="jp-icon3" fill="#616161"><path d="M12 2C7.6 2 4 3.3 4 5v14c0 1.7 3.6 3 8 3s8-1.3 8-3V5c0-1.7-3.6-3-8-3zm0 2c3.6 0 6 .9 6 1s-2.4 1-6 1-6-.9-6-1 2.4-1 6-1zM6 7.4C7.5 8 9.6 8.3 12 8.3s4.5-.3 6-.9V12c0 .1-2.4 1-6 1s-6-.9-6-1V7.4zm0 7c1.5.6 3.6.9 6 .9s4.5-.3 6-.9V19c0 .1-2.4 1-6 1s-6-.9-6-1v-4.6z"/></g></svg>',
});

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'winlake-lakehouse:plugin',
  description: 'The Lakehouse side panel: winlake tables by tier, their schema, partitions and history.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ILayoutRestorer],
  activate: (app: JupyterFrontEnd, notebooks: INotebookTracker, restorer: ILayoutRestorer | null) => {
    const panel = new LakehousePanel({
      insert(source) {
        const current = notebooks.currentWidget;
        if (!current) return false;
        const notebook = current.content;
        NotebookActions.insertBelow(notebook);
        const cell = notebook.activeCell;
        if (!cell) return false;
        cell.model.sharedModel.setSource(source);
        app.shell.activateById(current.id);
        return true;
      },
    });
    panel.title.icon = lakehouseIcon;
    panel.title.caption = 'Lakehouse';
    app.shell.add(panel, 'left', { rank: 450 });
    restorer?.add(panel, 'winlake-lakehouse');
    app.commands.addCommand('winlake-lakehouse:refresh', {
      label: 'Refresh the Lakehouse panel',
      execute: () => panel.refresh(),
    });
  },
};

export default plugin;
